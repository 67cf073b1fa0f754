package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The attacks of issue 15's security review (section 6) and their kin:
// each test performs one against the built binary.

// fdEscape lists what a container process finds at fds 3..5 and tries to
// create a file next to each, through /proc/self/fd/N/.. .
const fdEscape = `for n in 3 4 5; do
	if [ -e /proc/self/fd/$n ]; then echo "LEAK fd $n: $(readlink /proc/self/fd/$n)"; fi
	touch /proc/self/fd/$n/../escaped 2>/dev/null
done; true`

// TestPreserveFdsNotPassed: --preserve-fds 3 from a caller that passed no
// fd at all. Before the fix the container got whatever rung itself had
// open at 3, 4 and 5 (the Go runtime's host cgroup cpu files and the
// state directory) and created a file on the host beside the state
// directory. Now rung refuses, naming --preserve-fds.
func TestPreserveFdsNotPassed(t *testing.T) {
	e := newEnv(t)
	check := func(what string, r result) {
		t.Helper()
		if strings.Contains(r.stdout, "LEAK") {
			t.Errorf("%s: the container got rung's own fds:\n%s", what, r.stdout)
		}
		if r.code == 0 || !strings.Contains(r.stderr, "--preserve-fds") {
			t.Errorf("%s: exit %d, want a refusal naming --preserve-fds: %s", what, r.code, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(e.root, "escaped")); err == nil {
			t.Errorf("%s: the container created a file on the host, in the state root", what)
		}
	}
	// exec.Command passes stdio only: rung's fds 3, 4 and 5 are closed.
	b := e.bundle("b", "strict", func(s *specs.Spec) { s.Process.Args = []string{"sh", "-c", fdEscape} })
	check("run", e.rung("run", "--preserve-fds", "3", "--bundle", b, "pfrun"))
	e.noLeftovers("pfrun")

	bd := e.bundle("d", "strict", sleeper)
	e.must("run", "-d", "--bundle", bd, "pfexec")
	check("exec", e.rung("exec", "--preserve-fds", "3", "pfexec", "sh", "-c", fdEscape))
	e.must("delete", "-f", "pfexec")
	e.noLeftovers("pfexec")
}

// runcRun runs runc, the reference, on bundle b with a state root of its
// own. runc is a dependency of the suite (.ci/run installs it).
func (e *env) runcRun(b, id string) result {
	e.t.Helper()
	runc, err := exec.LookPath("runc")
	if err != nil {
		e.t.Fatalf("runc, the reference runtime, is missing: %v", err)
	}
	return run(exec.Command(runc, "--root", filepath.Join(e.dir, "runc"), "run", "--bundle", b, id))
}

// TestStartContainerHookUnderSeccomp: a startContainer hook runs in the
// container under its seccomp filter, as runc runs it (issue 17 item 7),
// and without the O_PATH handle on the host's exec.fifo (issue 15 §6.5).
// Before the fix the hook ran before the filter was loaded: a profile
// that kills mkdir did not stop a hook running mkdir, and the hook had
// fd 4 on the state directory's exec.fifo.
func TestStartContainerHookUnderSeccomp(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "strict", func(s *specs.Spec) {
		s.Process.Args = []string{"true"}
		s.Root.Readonly = false
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActKill}},
		}
		s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{
			{Path: "/bin/sh", Args: []string{"sh", "-c", `for n in 3 4 5 6 7 8 9; do
				[ -e /proc/self/fd/$n ] && echo "$n $(readlink /proc/self/fd/$n)"; done > /tmp/hookfds; true`}},
			{Path: "/bin/mkdir", Args: []string{"mkdir", "/tmp/hookdir"}},
		}}
	})
	hookdir := filepath.Join(b, "rootfs/tmp/hookdir")
	ref := e.runcRun(b, "sc-runc")
	if ref.code == 0 {
		t.Fatalf("runc ran the mkdir hook under a filter that kills mkdir: %s", ref.stderr)
	}
	os.Remove(hookdir)
	r := e.rung("run", "--bundle", b, "sc")
	if r.code == 0 || !strings.Contains(r.stderr, "startContainer hook #1") || !strings.Contains(r.stderr, "bad system call") {
		t.Errorf("rung run: exit %d, want a startContainer hook #1 killed by seccomp (runc: exit %d %s): %s", r.code, ref.code, ref.stderr, r.stderr)
	}
	if _, err := os.Stat(hookdir); err == nil {
		t.Errorf("the hook ran mkdir despite the filter")
	}
	fds, err := os.ReadFile(filepath.Join(b, "rootfs/tmp/hookfds"))
	if err != nil {
		t.Fatalf("first hook did not run: %v", err)
	}
	if strings.Contains(string(fds), "exec.fifo") || strings.Contains(string(fds), e.root) {
		t.Errorf("a startContainer hook got a runtime fd:\n%s", fds)
	}
	e.noLeftovers("sc")
}
