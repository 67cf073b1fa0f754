package libns

import (
	"errors"
	"strings"
	"testing"
)

func TestAssess(t *testing.T) {
	for _, tc := range []struct {
		set  Set
		want string
	}{
		{0, "none"},
		{NewSet(Net), "none+network"},
		{NewSet(Mount), "standard"},
		{NewSet(Mount, PID, Net), "standard+pid,network"},
		{NewSet(Mount, PID, Net, IPC), "strict"},
		// runc's default config
		{NewSet(Mount, PID, Net, IPC, UTS, Cgroup), "strict+uts,cgroup"},
		{NewSet(Mount, PID, Net, IPC, UTS, User), "quantum"},
		{NewSet(AllKinds()...), "quantum+cgroup,time"},
		{NewSet(PID, Net, IPC, UTS, User), "none+pid,network,ipc,uts,user"},
	} {
		if got := Assess(tc.set).String(); got != tc.want {
			t.Errorf("Assess(%s) = %s, want %s", tc.set, got, tc.want)
		}
	}
}

func TestRequireRung(t *testing.T) {
	strict := NewSet(Mount, PID, Net, IPC)
	if err := RequireRung(strict, Strict); err != nil {
		t.Fatalf("strict set refused at strict: %v", err)
	}
	if err := RequireRung(strict, Standard); err != nil {
		t.Fatalf("strict set refused at standard: %v", err)
	}
	err := RequireRung(strict.Minus(NewSet(Net)), Strict)
	if !errors.Is(err, ErrBelowRung) || !strings.Contains(err.Error(), "missing network") {
		t.Fatalf("want a below-rung error naming network, got %v", err)
	}
	err = RequireRung(strict, Quantum)
	if err == nil || !strings.Contains(err.Error(), "missing uts,user") {
		t.Fatalf("want missing uts,user, got %v", err)
	}
}

func TestCheckOrigin(t *testing.T) {
	if _, err := CheckOrigin(NewSet(User, Net)); err == nil {
		t.Fatal("user namespace without mount or pid accepted")
	}
	if _, err := CheckOrigin(NewSet(User, PID, Mount)); err != nil {
		t.Fatalf("user+pid+mount refused: %v", err)
	}
	w, err := CheckOrigin(NewSet(PID))
	if err != nil || len(w) != 1 {
		t.Fatalf("pid without mount: want one warning, got %v %v", w, err)
	}
	if w, _ := CheckOrigin(NewSet(PID, Mount)); len(w) != 0 {
		t.Fatalf("unexpected warnings %v", w)
	}
}

func TestParse(t *testing.T) {
	for _, k := range AllKinds() {
		got, err := ParseKind(k.OCI())
		if err != nil || got != k {
			t.Errorf("ParseKind(%s) = %v, %v", k.OCI(), got, err)
		}
	}
	if _, err := ParseKind("bogus"); err == nil {
		t.Error("bogus kind accepted")
	}
	if r, err := ParseRung("Strict"); err != nil || r != Strict {
		t.Errorf("ParseRung(Strict) = %v, %v", r, err)
	}
	if _, err := ParseRung("max"); err == nil {
		t.Error("unknown rung accepted")
	}
}
