package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestMountsWithoutMountNamespace: a config with no mount namespace
// inherits the host's (runtime spec), so its mounts are made there, on the
// rootfs; delete removes every one of them and nothing else: not the
// rootfs' own mount (an engine's overlay), not a host mount that the
// container tries to put in the way with a symlink.
func TestMountsWithoutMountNamespace(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "file"), []byte("from the host\n"), 0o644)
	// A host mount the container will point a symlink at.
	victim := filepath.Join(e.dir, "victim")
	os.MkdirAll(filepath.Join(victim, "t"), 0o755)
	if err := unix.Mount("tmpfs", filepath.Join(victim, "t"), "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(filepath.Join(victim, "t"), unix.MNT_DETACH)

	b := e.bundle("b", "none", func(s *specs.Spec) {
		s.Linux.Namespaces = nil
		s.Root.Readonly = false
		s.Process.Args = []string{"sleep", "1000"}
		s.Mounts = []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "mode=755"}},
			{Destination: "/mnt/t", Type: "tmpfs", Source: "tmpfs"},
			{Destination: "/mnt/src", Type: "bind", Source: src, Options: []string{"rbind", "ro"}},
		}
		s.Linux.MaskedPaths = []string{"/proc/timer_list"}
		s.Linux.ReadonlyPaths = []string{"/proc/sys"}
	})
	rootfs := filepath.Join(b, "rootfs")
	// The engine's rootfs is a mount of its own (containerd's overlay).
	if err := unix.Mount(rootfs, rootfs, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(rootfs, unix.MNT_DETACH)

	e.must("run", "-d", "--bundle", b, "c")
	pid := e.state("c").Pid
	if nsOf(t, pid, "mnt") != nsOf(t, os.Getpid(), "mnt") {
		t.Fatal("the container is not in the host's mount namespace")
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, m := range []string{"/proc", "/dev", "/mnt/t", "/mnt/src", "/proc/timer_list", "/proc/sys"} {
		if !strings.Contains(string(mi), " "+rootfs+m+" ") {
			t.Errorf("%s not mounted on the rootfs in the host's table", m)
		}
	}
	// exec enters the rootfs too (init's root), not the host's root.
	if r := e.rung("exec", "c", "test", "-x", "/bin/probe"); r.code != 0 {
		t.Errorf("exec does not run in the container's rootfs: exit %d %q", r.code, r.stderr)
	}
	if r := e.rung("exec", "c", "cat", "/mnt/src/file"); r.code != 0 || r.stdout != "from the host\n" {
		t.Errorf("bind mount: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := e.rung("exec", "c", "touch", "/mnt/src/new"); r.code == 0 {
		t.Error("the ro bind mount is writable")
	}
	if r := e.rung("exec", "c", "sh", "-c", "echo x > /proc/sys/kernel/domainname"); r.code == 0 {
		t.Error("readonly path /proc/sys is writable")
	}
	if r := e.rung("exec", "c", "sh", "-c", "wc -c < /proc/timer_list"); strings.TrimSpace(r.stdout) != "0" {
		t.Errorf("masked /proc/timer_list: %q %q", r.stdout, r.stderr)
	}
	// The container moves its mounts and leaves a symlink to the host
	// mount where they were.
	if r := e.rung("exec", "c", "sh", "-c", "mv /mnt /mnt2 && ln -s "+victim+" /mnt"); r.code != 0 {
		t.Fatalf("move the mounts: %s", r.stderr)
	}
	e.must("delete", "-f", "c")

	mi, _ = os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), " "+rootfs+"/") {
		t.Errorf("mounts left below the rootfs:\n%s", grepLines(string(mi), rootfs+"/"))
	}
	if !strings.Contains(string(mi), " "+rootfs+" ") {
		t.Error("the rootfs' own mount was removed")
	}
	if !strings.Contains(string(mi), " "+filepath.Join(victim, "t")+" ") {
		t.Error("the host mount behind the container's symlink was removed")
	}
	if out, err := exec.Command("umount", rootfs).CombinedOutput(); err != nil {
		t.Fatalf("umount rootfs: %v %s", err, out)
	}
	unix.Unmount(filepath.Join(victim, "t"), 0)
	e.noLeftovers("c")
}

// TestHostMountsRemovedWhenCreateFails: a create that fails after some of
// its mounts were made on the host leaves none.
func TestHostMountsRemovedWhenCreateFails(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "none", func(s *specs.Spec) {
		s.Linux.Namespaces = nil
		s.Root.Readonly = false
		s.Mounts = []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/mnt/t", Type: "tmpfs", Source: "tmpfs"},
			{Destination: "/mnt/missing", Type: "bind", Source: filepath.Join(e.dir, "no-such-source"), Options: []string{"bind"}},
		}
	})
	r := e.rung("create", "--bundle", b, "c")
	if r.code == 0 || !strings.Contains(r.stderr, "mounts[2]") {
		t.Fatalf("create: exit %d %q, want the failing mounts[2] named", r.code, r.stderr)
	}
	e.noLeftovers("c")
}

// TestHostMountRefusals: without a mount namespace, what would change the
// host mount holding the rootfs is refused, naming the field.
func TestHostMountRefusals(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		field string
		edit  func(s *specs.Spec)
	}{
		{"root.readonly", func(s *specs.Spec) { s.Root.Readonly = true }},
		{"linux.rootfsPropagation", func(s *specs.Spec) { s.Root.Readonly = false; s.Linux.RootfsPropagation = "shared" }},
	} {
		b := e.bundle("b-"+tc.field, "none", func(s *specs.Spec) { s.Linux.Namespaces = nil; tc.edit(s) })
		r := e.rung("run", "--bundle", b, "c")
		if r.code == 0 || !strings.Contains(r.stderr, tc.field+":") {
			t.Errorf("%s: exit %d %q, want it refused", tc.field, r.code, r.stderr)
		}
		e.noLeftovers("c")
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
