package tests

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// With --no-pivot the container is chrooted into its rootfs, but its mount
// namespace still holds the host's mounts. The kernel lets a user namespace
// mount a new procfs only when a fully visible one is already in the mount
// namespace (fs/namespace.c mount_too_revealing): a host /proc left behind
// hands the container an unmasked procfs, defeating maskedPaths. runc
// refuses the mount with "permission denied"; so must rung.
func TestNoPivotNoFullProcfs(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "", func(s *specs.Spec) {
		// Not uid 0: mapping the parent's uid 0 in a new user namespace
		// needs CAP_SETFCAP (Linux 5.12), which the default set lacks.
		s.Process.User = specs.User{UID: 1000, GID: 1000}
		s.Process.Args = []string{"sh", "-c",
			"unshare -mrpf sh -c 'mount -t proc none /proc && echo PROC-MOUNTED; cat /proc/1/cmdline >/dev/null; echo done'"}
	})
	ours, theirs := e.both("np", "run", "--no-pivot", "--bundle", b, "ID")
	t.Logf("runc: exit %d stdout %q stderr %q", theirs.code, theirs.stdout, theirs.stderr)
	t.Logf("rung: exit %d stdout %q stderr %q", ours.code, ours.stdout, ours.stderr)
	if !strings.Contains(theirs.stdout, "done") || strings.Contains(theirs.stdout, "PROC-MOUNTED") ||
		!strings.Contains(theirs.stderr, "Permission denied") && !strings.Contains(theirs.stderr, "permission denied") {
		t.Fatalf("runc (the reference) did not refuse the procfs mount: exit %d %q %q", theirs.code, theirs.stdout, theirs.stderr)
	}
	if strings.Contains(ours.stdout, "PROC-MOUNTED") || !strings.Contains(ours.stdout, "done") {
		t.Errorf("rung --no-pivot: a user namespace in the container mounted a fresh procfs: %q %q", ours.stdout, ours.stderr)
	}
	if ours.stderr != theirs.stderr {
		t.Errorf("stderr differs: rung %q, runc %q", ours.stderr, theirs.stderr)
	}
	e.noLeftovers("np-rung")
}

// An everyday --no-pivot run still sees its rootfs, its /proc and /dev,
// and writes where it may.
func TestNoPivotEveryday(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "", func(s *specs.Spec) {
		s.Root.Readonly = false
		s.Process.Args = []string{"sh", "-c",
			"echo x >/tmp/f && cat /tmp/f && ls /dev/null && head -1 /etc/passwd"}
	})
	r := e.must("run", "--no-pivot", "--bundle", b, "np2")
	if !strings.Contains(r.stdout, "x\n/dev/null\nroot:x:0:0") {
		t.Errorf("--no-pivot container: %q", r.stdout)
	}
	e.noLeftovers("np2")
}

// In a user namespace the host's mounts are locked into the container's
// mount namespace and cannot be detached: they are covered instead, and
// the attack must fail the same way.
func TestNoPivotUserNamespaceNoFullProcfs(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "quantum", func(s *specs.Spec) {
		s.Process.User = specs.User{UID: 1000, GID: 1000}
		s.Process.Args = []string{"sh", "-c",
			"unshare -mrpf sh -c 'mount -t proc none /proc && echo PROC-MOUNTED; echo done'; head -1 /etc/passwd"}
	})
	r := e.rung("run", "--no-pivot", "--bundle", b, "npu")
	if r.code != 0 || strings.Contains(r.stdout, "PROC-MOUNTED") || !strings.Contains(r.stdout, "done\nroot:x:0:0") ||
		!strings.Contains(r.stderr, "permission denied") {
		t.Errorf("rung --no-pivot in a user namespace: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	e.noLeftovers("npu")
}
