package hostcheck

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/rungrt/rung/libns"
)

// allNS answers p for every kind, then applies the overrides.
func allNS(p Probe, over map[libns.Kind]Probe) map[libns.Kind]Probe {
	m := map[libns.Kind]Probe{}
	for _, k := range libns.AllKinds() {
		m[k] = p
	}
	for k, v := range over {
		m[k] = v
	}
	return m
}

var goodSys = Syscalls{OpenTree: yes(), MoveMount: yes(), MountSetattr: yes(), Statmount: yes(), PidfdOpen: yes(), Clone3: yes(), CloneIntoCgroup: yes()}

func states(vs []RungVerdict) string {
	var s []string
	for _, v := range vs {
		s = append(s, v.Rung+"="+string(v.State))
	}
	return strings.Join(s, " ")
}

func TestLadder(t *testing.T) {
	eperm := no("operation not permitted")
	noSetattr := goodSys
	noSetattr.MountSetattr = no("not in this kernel (ENOSYS)")
	unsureSetattr := goodSys
	unsureSetattr.MountSetattr = unknown("EPERM: a seccomp filter on this process may block it")
	for _, tc := range []struct {
		name    string
		ns      map[libns.Kind]Probe
		viaUser bool
		sys     Syscalls
		want    string
		highest string
		reason  string // in the first verdict that is not yes
	}{
		{"root, everything", allNS(yes(), nil), false, goodSys,
			"none=yes standard=yes strict=yes quantum=yes", "quantum", ""},
		{"root, no user namespaces", allNS(yes(), map[libns.Kind]Probe{libns.User: eperm}), false, goodSys,
			"none=yes standard=yes strict=yes quantum=no", "strict", "user namespace: operation not permitted"},
		{"root, no network namespace", allNS(yes(), map[libns.Kind]Probe{libns.Net: eperm}), false, goodSys,
			"none=yes standard=yes strict=no quantum=no", "standard", "network namespace: operation not permitted"},
		// uts, cgroup and time are extras below quantum: their lack
		// only costs quantum (uts) or nothing (cgroup, time).
		{"root, no cgroup or time namespace", allNS(yes(), map[libns.Kind]Probe{libns.Cgroup: eperm, libns.Time: eperm}), false, goodSys,
			"none=yes standard=yes strict=yes quantum=yes", "quantum", ""},
		{"root, not probed", allNS(unknown("not probed: the caller is not root"), nil), false, goodSys,
			"none=yes standard=unknown strict=unknown quantum=unknown", "none", "mount namespace: not probed: the caller is not root"},
		{"missing probe counts as unknown", map[libns.Kind]Probe{}, false, goodSys,
			"none=yes standard=unknown strict=unknown quantum=unknown", "none", "mount namespace: not probed"},
		{"unprivileged, everything", allNS(yes(), nil), true, goodSys,
			"none=yes standard=yes strict=yes quantum=yes", "quantum", ""},
		// An unprivileged user's every namespace comes inside a user
		// namespace: without one it gets only none, and the user
		// namespace is the one reason given.
		{"unprivileged, user namespaces refused", allNS(no("no space left on device"), nil), true, goodSys,
			"none=yes standard=no strict=no quantum=no", "none", "user namespace: no space left on device"},
		{"unprivileged, no net in a user namespace", allNS(yes(), map[libns.Kind]Probe{libns.Net: eperm}), true, goodSys,
			"none=yes standard=yes strict=no quantum=no", "standard", "network namespace: operation not permitted"},
		{"shared reasons read once", allNS(yes(), map[libns.Kind]Probe{libns.PID: eperm, libns.IPC: eperm}), false, goodSys,
			"none=yes standard=yes strict=no quantum=no", "standard", "pid, ipc namespaces: operation not permitted"},
		// rung needs mount_setattr for every start (its sealed binary).
		{"no mount_setattr: no rung at all", allNS(yes(), nil), false, noSetattr,
			"none=no standard=no strict=no quantum=no", "", "mount_setattr: no (not in this kernel (ENOSYS))"},
		{"mount_setattr unsure", allNS(yes(), nil), false, unsureSetattr,
			"none=unknown standard=unknown strict=unknown quantum=unknown", "", "mount_setattr: unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vs := Ladder(tc.ns, tc.viaUser, tc.sys)
			if got := states(vs); got != tc.want {
				t.Errorf("Ladder = %s, want %s", got, tc.want)
			}
			if got := highest(vs); got != tc.highest {
				t.Errorf("highest = %q, want %q", got, tc.highest)
			}
			for _, v := range vs {
				if v.OK() {
					if v.Reason != "" {
						t.Errorf("%s: yes with reason %q", v.Rung, v.Reason)
					}
					continue
				}
				if !strings.Contains(v.Reason, tc.reason) {
					t.Errorf("%s: reason %q, want it to contain %q", v.Rung, v.Reason, tc.reason)
				}
				break
			}
		})
	}
}

func TestLadderReasonNamesOnlyUser(t *testing.T) {
	vs := Ladder(allNS(no("no space left on device"), nil), true, goodSys)
	if r := vs[libns.Quantum].Reason; r != "user namespace: no space left on device" {
		t.Errorf("quantum reason = %q", r)
	}
}

func TestRequire(t *testing.T) {
	r := &Report{
		Caller:       Caller{UID: 0, Root: true, User: "root"},
		Root:         Access{User: "root", Rungs: Ladder(allNS(yes(), map[libns.Kind]Probe{libns.User: no("operation not permitted")}), false, goodSys)},
		Unprivileged: Access{User: "nobody", Rungs: Ladder(allNS(yes(), nil), true, goodSys)},
	}
	if err := r.Require(libns.Strict); err != nil {
		t.Errorf("strict for root: %v", err)
	}
	err := r.Require(libns.Quantum)
	if !errors.Is(err, ErrNotPossible) || !strings.Contains(err.Error(), "for root: user namespace: operation not permitted") {
		t.Errorf("quantum for root: %v", err)
	}
	// The same report read for an unprivileged caller uses its column.
	r.Caller = Caller{UID: 65534, User: "nobody"}
	if err := r.Require(libns.Quantum); err != nil {
		t.Errorf("quantum for nobody: %v", err)
	}
	r.Unprivileged.Rungs = nil
	if err := r.Require(libns.None); !errors.Is(err, ErrNotPossible) {
		t.Errorf("no verdicts: %v, want not possible", err)
	}
}

func TestNsProbe(t *testing.T) {
	for _, tc := range []struct {
		err   error
		state State
	}{
		{syscall.ENOENT, Yes}, // the exec failed: the clone worked
		{nil, Yes},
		{syscall.EPERM, No},
		{syscall.ENOSPC, No},
		{syscall.EUSERS, No},
		{syscall.EINVAL, No},
		{syscall.ENOMEM, No},
		{errors.New("odd"), Unknown},
	} {
		if got := nsProbe(tc.err); got.State != tc.state {
			t.Errorf("nsProbe(%v) = %v, want %s", tc.err, got, tc.state)
		}
	}
}

func TestSyscallProbe(t *testing.T) {
	for _, tc := range []struct {
		err      error
		filtered bool
		state    State
	}{
		{syscall.EINVAL, false, Yes},
		{syscall.EBADF, false, Yes},
		{syscall.ENOSYS, false, No},
		{syscall.ENOSYS, true, No},
		{syscall.EPERM, false, Yes},    // only the capability check can say it
		{syscall.EPERM, true, Unknown}, // or a filter
		{syscall.EIO, false, Unknown},
		{nil, false, Yes},
	} {
		if got := syscallProbe(tc.err, tc.filtered); got.State != tc.state {
			t.Errorf("syscallProbe(%v, %v) = %v, want %s", tc.err, tc.filtered, got, tc.state)
		}
	}
}

func TestCgroupCloneProbe(t *testing.T) {
	for _, tc := range []struct {
		err   error
		state State
	}{
		{syscall.ENOENT, Yes},
		{syscall.EACCES, Yes},
		{syscall.EINVAL, No},
		{syscall.ENOSYS, No},
		{syscall.EBUSY, Unknown},
	} {
		if got := cgroupCloneProbe(tc.err); got.State != tc.state {
			t.Errorf("cgroupCloneProbe(%v) = %v, want %s", tc.err, got, tc.state)
		}
	}
}

func TestSeccompFiltered(t *testing.T) {
	for status, want := range map[string]bool{
		"Name:\tx\nSeccomp:\t0\nSeccomp_filters:\t0\n": false,
		"Name:\tx\nSeccomp:\t2\nSeccomp_filters:\t1\n": true,
		"Name:\tx\n": false,
	} {
		if got := seccompFiltered(status); got != want {
			t.Errorf("seccompFiltered(%q) = %v", status, got)
		}
	}
}

func TestClassifyCgroups(t *testing.T) {
	v1 := func(mp, opts string) cgroupMount { return cgroupMount{mp, "cgroup", opts} }
	v2 := func(mp string) cgroupMount { return cgroupMount{mp, "cgroup2", "rw,nsdelegate"} }
	for _, tc := range []struct {
		name   string
		mounts []cgroupMount
		mode   string
		v2     string
		v1     int
	}{
		{"unified", []cgroupMount{v2("/sys/fs/cgroup")}, "unified", "/sys/fs/cgroup", 0},
		// this machine
		{"hybrid", []cgroupMount{v1("/sys/fs/cgroup/memory", "rw,memory"), v1("/sys/fs/cgroup/systemd", "rw,xattr,name=systemd"), v2("/sys/fs/cgroup/unified")}, "hybrid", "/sys/fs/cgroup/unified", 2},
		{"legacy", []cgroupMount{v1("/sys/fs/cgroup/cpu,cpuacct", "rw,cpu,cpuacct"), v1("/sys/fs/cgroup/pids", "rw,pids")}, "legacy", "", 2},
		{"none", nil, "none", "", 0},
		// a second mount of the same hierarchy is one hierarchy
		{"bind mount repeats", []cgroupMount{v1("/sys/fs/cgroup/pids", "rw,pids"), v1("/x/pids", "rw,pids"), v2("/sys/fs/cgroup"), v2("/y")}, "hybrid", "/sys/fs/cgroup", 1},
		{"cgroup2 elsewhere only", []cgroupMount{v2("/mnt/cg")}, "unified", "/mnt/cg", 0},
	} {
		mode, gotV2, gotV1 := classifyCgroups(tc.mounts)
		if mode != tc.mode || gotV2 != tc.v2 || len(gotV1) != tc.v1 {
			t.Errorf("%s: got %s %q %d hierarchies, want %s %q %d", tc.name, mode, gotV2, len(gotV1), tc.mode, tc.v2, tc.v1)
		}
	}
}

func TestV1Controllers(t *testing.T) {
	for opts, want := range map[string][]string{
		"rw,cpu,cpuacct":                         {"cpu", "cpuacct"},
		"rw,xattr,name=systemd":                  {"name=systemd"},
		"rw,memory":                              {"memory"},
		"rw,nosuid,release_agent=/x,cpuset":      {"nosuid", "cpuset"},
		"rw,noprefix,clone_children,cpuset":      {"cpuset"},
		"ro,favordynmods,cpuset_v2_mode,hugetlb": {"hugetlb"},
		"rw":                                     {},
	} {
		if got := v1Controllers(opts); !reflect.DeepEqual(got, want) {
			t.Errorf("v1Controllers(%q) = %q, want %q", opts, got, want)
		}
	}
}

func TestParseSubIDs(t *testing.T) {
	data := "# comment\nalice:100000:65536\n1001:200000:65536\nbob:300000:0\nalice:400000:10\nbad line\ncarol:x:5\n"
	if got := parseSubIDs(data, "alice", 1000); !reflect.DeepEqual(got, []IDRange{{100000, 65536}, {400000, 10}}) {
		t.Errorf("alice: %v", got)
	}
	if got := parseSubIDs(data, "dave", 1001); !reflect.DeepEqual(got, []IDRange{{200000, 65536}}) {
		t.Errorf("by uid: %v", got)
	}
	if got := parseSubIDs(data, "bob", 1002); len(got) != 0 {
		t.Errorf("zero count: %v", got)
	}
	if got := parseSubIDs(data, "carol", 1003); got == nil || len(got) != 0 {
		t.Errorf("bad start: %v (want empty, not nil)", got)
	}
}

func TestMultiRange(t *testing.T) {
	priv := IDHelper{Path: "/usr/bin/newuidmap", Privileged: true}
	full := SubordinateIDs{User: "alice", UIDs: []IDRange{{100000, 65536}}, GIDs: []IDRange{{100000, 65536}}, Newuidmap: priv, Newgidmap: priv}
	if p := multiRange(full); !p.OK() {
		t.Errorf("full setup: %v", p)
	}
	for name, edit := range map[string]func(*SubordinateIDs){
		"no subgid":       func(s *SubordinateIDs) { s.GIDs = nil },
		"no newuidmap":    func(s *SubordinateIDs) { s.Newuidmap = IDHelper{} },
		"plain newgidmap": func(s *SubordinateIDs) { s.Newgidmap.Privileged = false },
	} {
		s := full
		edit(&s)
		if p := multiRange(s); p.State != No || p.Reason == "" {
			t.Errorf("%s: %v", name, p)
		}
	}
}

func TestProbeString(t *testing.T) {
	for p, want := range map[Probe]string{
		yes():       "yes",
		no("why"):   "no (why)",
		unknown(""): "unknown",
	} {
		if got := fmt.Sprint(p); got != want {
			t.Errorf("%#v prints %q, want %q", p, got, want)
		}
	}
}
