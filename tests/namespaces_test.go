package tests

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestEveryNamespaceKind creates all eight kinds at once and checks from
// inside that each differs from the host's.
func TestEveryNamespaceKind(t *testing.T) {
	e := newEnv(t)
	host := hostNS(t)
	p := e.probe("quantum", func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
	})
	for ns, h := range host {
		if p.Namespaces[ns] == "" || p.Namespaces[ns] == h {
			t.Errorf("%s namespace inside %q, host %q: not a new namespace", ns, p.Namespaces[ns], h)
		}
	}
	if p.Pid != 1 {
		t.Errorf("container process is pid %d, want 1", p.Pid)
	}
	if p.UIDMap != "0 100000 65536" {
		t.Errorf("uid_map inside: %q", p.UIDMap)
	}
	if p.UID != 0 || p.GID != 0 {
		t.Errorf("uid/gid %d/%d, want root of the user namespace", p.UID, p.GID)
	}
}

// TestEachKindAlone creates one kind at a time (mount always, so the
// rootfs can be built) and checks that exactly the asked ones are new.
func TestEachKindAlone(t *testing.T) {
	host := hostNS(t)
	for _, kind := range []specs.LinuxNamespaceType{
		specs.PIDNamespace, specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace,
		specs.CgroupNamespace, specs.TimeNamespace, specs.UserNamespace,
	} {
		t.Run(string(kind), func(t *testing.T) {
			e := newEnv(t)
			p := e.probe("standard", func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: kind})
				if kind == specs.UserNamespace {
					// proc, mqueue, sysfs and cgroup can only be mounted by a
					// user namespace that owns the pid, ipc, net and cgroup
					// namespaces: the kernel's rule, runc's too.
					for _, k := range []specs.LinuxNamespaceType{specs.PIDNamespace, specs.IPCNamespace, specs.NetworkNamespace, specs.CgroupNamespace} {
						s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: k})
					}
					s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
					s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
				}
			})
			want := map[string]bool{"mnt": true, procName(kind): true}
			if kind == specs.UserNamespace {
				want["pid"], want["ipc"], want["net"], want["cgroup"] = true, true, true, true
			}
			for ns, h := range host {
				if isNew := p.Namespaces[ns] != h; isNew != want[ns] {
					t.Errorf("%s namespace: new=%v, want %v", ns, isNew, want[ns])
				}
			}
		})
	}
}

func procName(k specs.LinuxNamespaceType) string {
	switch k {
	case specs.MountNamespace:
		return "mnt"
	case specs.NetworkNamespace:
		return "net"
	}
	return string(k)
}

func TestLadderInState(t *testing.T) {
	for _, tc := range []struct{ rung, extras string }{
		{"none", ""}, {"standard", ""}, {"strict", "uts,cgroup"}, {"quantum", "cgroup"},
	} {
		t.Run(tc.rung, func(t *testing.T) {
			e := newEnv(t)
			b := e.bundle("b", tc.rung, sleeper)
			e.must("create", "--bundle", b, "--min-isolation", tc.rung, "c")
			st := e.state("c")
			if st.Isolation.Rung != tc.rung || strings.Join(st.Isolation.Extras, ",") != tc.extras || !st.Isolation.Verified {
				t.Fatalf("isolation %+v, want %s with extras %q", st.Isolation, tc.rung, tc.extras)
			}
			e.must("start", "c")
			e.must("delete", "-f", "c")
			e.noLeftovers("c")
		})
	}
}

func TestMinIsolationRefuses(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "strict", sleeper)
	e.mustFail(t, "missing user", "create", "--bundle", b, "--min-isolation", "quantum", "c")
	e.noLeftovers("c")
	b = e.bundle("nonet", "strict", func(s *specs.Spec) {
		sleeper(s)
		s.Linux.Namespaces = withoutNS(s.Linux.Namespaces, specs.NetworkNamespace)
	})
	e.mustFail(t, "missing network", "run", "--bundle", b, "--min-isolation", "strict", "c")
	e.noLeftovers("c")
	if r := e.rung("create", "--bundle", b, "--min-isolation", "max", "c"); r.code == 0 {
		t.Fatal("unknown rung accepted")
	}
}

func withoutNS(list []specs.LinuxNamespace, drop specs.LinuxNamespaceType) []specs.LinuxNamespace {
	var out []specs.LinuxNamespace
	for _, ns := range list {
		if ns.Type != drop {
			out = append(out, ns)
		}
	}
	return out
}

// A new network namespace has lo up (engines' pods talk over 127.0.0.1);
// a joined one is left as its owner set it.
func TestLoopbackUpInNewNetworkNamespace(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "strict", func(s *specs.Spec) {
		s.Process.Args = []string{"sh", "-c", "ip link show lo | grep -o 'state [A-Z]*\\|<[A-Z,_]*>'; (echo hi | nc -l -p 7777 &) ; sleep 0.3; nc 127.0.0.1 7777 </dev/null"}
	})
	r := e.rung("run", "--bundle", b, "c")
	if !strings.Contains(r.stdout, "UP") || !strings.HasSuffix(r.stdout, "hi\n") {
		t.Fatalf("loopback in a new network namespace: %q %s", r.stdout, r.stderr)
	}
	e.noLeftovers("c")
}
