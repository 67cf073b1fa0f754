package libns

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// allKinds is the set of every kind rung knows.
var allKinds = NewSet(AllKinds()...)

// FuzzLadder checks the ladder reading on arbitrary pairs of namespace
// sets: it is the highest rung whose set is contained, it is monotone in
// the set (more namespaces never read lower), RequireRung agrees with it,
// and the printed reading names exactly the set.
func FuzzLadder(f *testing.F) {
	f.Add(uint16(0), uint16(0))
	f.Add(uint16(NewSet(Mount, PID, Net, IPC, UTS, Cgroup)), uint16(NewSet(User)))
	f.Add(uint16(NewSet(Mount)), uint16(NewSet(PID, Net, IPC)))
	f.Add(uint16(NewSet(User, PID)), uint16(NewSet(Time)))
	f.Fuzz(func(t *testing.T, a, b uint16) {
		sa, sb := Set(a)&allKinds, Set(b)&allKinds
		ra, rab := Assess(sa), Assess(sa|sb)
		checkReading(t, sa, ra)
		checkReading(t, sa|sb, rab)
		if rab.Rung < ra.Rung || rab.Rung < Assess(sb).Rung {
			t.Fatalf("not monotone: %s reads %s, but %s|%s reads %s", sa, ra, sa, sb, rab)
		}
		for r := None; r <= Quantum; r++ {
			err := RequireRung(sa, r)
			if (err == nil) != (r <= ra.Rung) {
				t.Fatalf("RequireRung(%s, %s) = %v, but the set reads %s", sa, r, err, ra)
			}
			if err != nil && !strings.Contains(err.Error(), "missing "+r.Requires().Minus(sa).String()) {
				t.Fatalf("RequireRung(%s, %s): %q does not name what is missing", sa, r, err)
			}
		}
		w, err := CheckOrigin(sa)
		if wantErr := sa.Has(User) && !sa.Has(Mount) && !sa.Has(PID); (err != nil) != wantErr {
			t.Fatalf("CheckOrigin(%s) = %v", sa, err)
		}
		if err == nil && (len(w) > 0) != (sa.Has(PID) && !sa.Has(Mount)) {
			t.Fatalf("CheckOrigin(%s) warnings %q", sa, w)
		}
	})
}

func checkReading(t *testing.T, s Set, rd Reading) {
	t.Helper()
	req := rd.Rung.Requires()
	if s&req != req {
		t.Fatalf("%s reads %s, whose set %s it lacks", s, rd.Rung, req)
	}
	for r := rd.Rung + 1; r <= Quantum; r++ {
		if s&r.Requires() == r.Requires() {
			t.Fatalf("%s reads %s, but contains %s's set", s, rd.Rung, r)
		}
	}
	if rd.Extras != s.Minus(req) || rd.Extras&req != 0 {
		t.Fatalf("%s: extras %s, want %s", s, rd.Extras, s.Minus(req))
	}
	// The printed reading names the rung and exactly the extras.
	name, extras, _ := strings.Cut(rd.String(), "+")
	if got, err := ParseRung(name); err != nil || got != rd.Rung {
		t.Fatalf("%s prints as %q, which parses as %s, %v", s, rd.String(), got, err)
	}
	var back Set
	if extras != "" {
		for _, n := range strings.Split(extras, ",") {
			k, err := ParseKind(specs.LinuxNamespaceType(n))
			if err != nil {
				t.Fatalf("%s prints as %q: %v", s, rd.String(), err)
			}
			back = back.Add(k)
		}
	}
	if back != rd.Extras {
		t.Fatalf("%s prints as %q: extras read back as %s", s, rd.String(), back)
	}
}

// FuzzParseRung: any string either names a rung (case-insensitively, and
// that rung prints back as it) or is refused; what it names can be
// required of any set without a panic.
func FuzzParseRung(f *testing.F) {
	for _, s := range []string{"none", "Standard", "STRICT", "quantum", "", "strict+uts", "Rung(7)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRung(s)
		if err != nil {
			if r != None || !strings.Contains(err.Error(), "unknown isolation rung") {
				t.Fatalf("ParseRung(%q) = %s, %v", s, r, err)
			}
			return
		}
		if !strings.EqualFold(r.String(), s) {
			t.Fatalf("ParseRung(%q) = %s", s, r)
		}
		_ = RequireRung(allKinds, r)
		_ = RequireRung(0, r)
	})
}
