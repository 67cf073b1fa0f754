package tests

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestSeccompErrnoAndArgs(t *testing.T) {
	e := newEnv(t)
	enosys := uint(38)
	b := e.bundle("b", "strict", func(s *specs.Spec) {
		s.Root.Readonly = false
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86},
			Syscalls: []specs.LinuxSyscall{
				{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &enosys},
				// kill(pid, 0) is refused with EPERM; other signals pass.
				{Names: []string{"kill"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 1, Value: 0, Op: specs.OpEqualTo}}},
			},
		}
		s.Process.Args = []string{"sh", "-c", "mkdir /tmp/x 2>&1; kill -0 1 2>&1; grep Seccomp: /proc/self/status"}
	})
	r := e.must("run", "--bundle", b, "sc")
	if !strings.Contains(r.stdout, "Function not implemented") || !strings.Contains(r.stdout, "Operation not permitted") ||
		!strings.Contains(r.stdout, "Seccomp:\t2") {
		t.Fatalf("seccomp inside: %q", r.stdout)
	}
	e.noLeftovers("sc")

	// Without noNewPrivileges the filter is loaded while init is privileged.
	b = e.bundle("nnp", "strict", func(s *specs.Spec) {
		s.Process.NoNewPrivileges = false
		s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"getcwd"}, Action: specs.ActErrno}}}
		s.Process.Args = []string{"sh", "-c", "grep -E 'Seccomp:|NoNewPrivs' /proc/self/status"}
	})
	if r := e.must("run", "--bundle", b, "nnp"); r.stdout != "NoNewPrivs:\t0\nSeccomp:\t2\n" {
		t.Fatalf("seccomp without no_new_privs: %q", r.stdout)
	}
	// A profile need not allow close_range (Docker's allow-list does not):
	// rung's own fd sealing must happen before the filter, with and
	// without no_new_privs.
	for _, nnp := range []bool{true, false} {
		id := "noclose" + strconv.FormatBool(nnp)
		b = e.bundle(id, "strict", func(s *specs.Spec) {
			s.Process.NoNewPrivileges = nnp
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
				Syscalls: []specs.LinuxSyscall{{Names: []string{"close_range"}, Action: specs.ActErrno}}}
			s.Process.Args = []string{"echo", "ran"}
		})
		if r := e.must("run", "--bundle", b, id); r.stdout != "ran\n" {
			t.Fatalf("profile without close_range (nnp %v): %q %s", nnp, r.stdout, r.stderr)
		}
	}
	b = e.bundle("bad", "strict", func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_BOGUS"}
	})
	e.mustFail(t, "linux.seccomp.defaultAction", "create", "--bundle", b, "bad")
	e.noLeftovers("bad")
}

func TestSysctl(t *testing.T) {
	e := newEnv(t)
	hostBefore, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	b := e.bundle("b", "strict", func(s *specs.Spec) {
		s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"}
		s.Process.Args = []string{"cat", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/shmmni"}
	})
	if r := e.must("run", "--bundle", b, "s"); r.stdout != "1\n1234\n" {
		t.Fatalf("sysctls inside: %q", r.stdout)
	}
	if after, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); string(after) != string(hostBefore) {
		t.Fatal("host ip_forward changed")
	}
	b = e.bundle("host", "strict", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"vm.swappiness": "10"} })
	e.mustFail(t, "vm.swappiness is not namespaced", "create", "--bundle", b, "h")
	e.noLeftovers("h")
	b = e.bundle("nonet", "strict", func(s *specs.Spec) {
		s.Linux.Namespaces = withoutNS(s.Linux.Namespaces, specs.NetworkNamespace)
		s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
	})
	e.mustFail(t, "needs a new network namespace", "create", "--bundle", b, "n")
	e.noLeftovers("n")
}

// CVE-2025-52881: a mount over a sysctl file must not receive the write
// meant for the sysctl.
func TestSysctlWriteNotRedirectedByMount(t *testing.T) {
	e := newEnv(t)
	decoy := filepath.Join(e.dir, "decoy")
	os.WriteFile(decoy, []byte("untouched\n"), 0o644)
	b := e.bundle("b", "strict", func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/proc/sys/net/ipv4/ip_forward", Type: "bind", Source: decoy, Options: []string{"bind"}})
		s.Linux.ReadonlyPaths = nil
		s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		s.Process.Args = []string{"true"}
	})
	e.rung("run", "--bundle", b, "redir")
	if data, _ := os.ReadFile(decoy); string(data) != "untouched\n" {
		t.Fatalf("sysctl write went to the mounted file: %q", data)
	}
	e.noLeftovers("redir")
}

func TestOOMScoreAdjPersonalityTimeOffsets(t *testing.T) {
	e := newEnv(t)
	adj := 500
	year := int64(365 * 24 * 3600)
	b := e.bundle("b", "strict", func(s *specs.Spec) {
		s.Process.OOMScoreAdj = &adj
		s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32}
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
		s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: year}}
		s.Process.Args = []string{"sh", "-c", "cat /proc/self/oom_score_adj; uname -m; cut -d. -f1 /proc/uptime"}
	})
	r := e.must("run", "--bundle", b, "k")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || lines[0] != "500" || lines[1] != "i686" {
		t.Fatalf("inside: %q", r.stdout)
	}
	if up, _ := strconv.ParseInt(lines[2], 10, 64); up < year {
		t.Errorf("uptime %s in a time namespace with boottime +%ds", lines[2], year)
	}
	b = e.bundle("aa", "strict", func(s *specs.Spec) { s.Process.ApparmorProfile = "rung-test" })
	if _, err := os.Stat("/sys/module/apparmor"); err != nil {
		e.mustFail(t, "process.apparmorProfile", "create", "--bundle", b, "aa")
	}
	e.noLeftovers("aa")
}
