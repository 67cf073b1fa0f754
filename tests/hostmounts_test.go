package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"
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
	mountTmpfs(t, filepath.Join(victim, "t"))

	b := e.hostNSBundle("b", func(s *specs.Spec) {
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
	// The engine mounted below the rootfs before create: not the
	// container's to remove.
	pre := filepath.Join(rootfs, "tmp")
	mountTmpfs(t, pre)
	os.WriteFile(filepath.Join(pre, "engine-file"), []byte("engine\n"), 0o644)

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
	if r := e.rung("exec", "c", "cat", "/tmp/engine-file"); r.code != 0 || r.stdout != "engine\n" {
		t.Errorf("the mount below the rootfs made before create: exit %d %q %q", r.code, r.stdout, r.stderr)
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
	if left := grepLines(string(mi), " "+rootfs+"/"); left != grepLines(string(mi), " "+pre+" ") {
		t.Errorf("mounts left below the rootfs:\n%s", left)
	}
	if !strings.Contains(string(mi), " "+pre+" ") {
		t.Error("a mount below the rootfs made before create was removed")
	}
	if strings.Count(string(mi), " "+rootfs+" ") != 1 {
		t.Errorf("the rootfs should be one mount again:\n%s", grepLines(string(mi), " "+rootfs+" "))
	}
	unix.Unmount(pre, 0)
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
	e.mustFail(t, "mounts[2]", "create", "--bundle", b, "c")
	e.noLeftovers("c")
}

// TestHostRootReadonlyAndPropagation: without a mount namespace,
// root.readonly and rootfsPropagation apply to rung's copy of the rootfs,
// not to the host mount holding it.
func TestHostRootReadonlyAndPropagation(t *testing.T) {
	e := newEnv(t)
	b := e.hostNSBundle("b", func(s *specs.Spec) {
		s.Root.Readonly = true
		s.Linux.RootfsPropagation = "rshared"
	})
	rootfs := filepath.Join(b, "rootfs")
	e.must("run", "-d", "--bundle", b, "c")
	if r := e.rung("exec", "c", "touch", "/new"); r.code == 0 {
		t.Error("root.readonly: the container's / is writable")
	}
	// rshared made the copy (the top mount on the rootfs) shared; the
	// copy is a slave otherwise.
	ms, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter(rootfs))
	if err != nil || len(ms) == 0 {
		t.Fatalf("no mount on the rootfs: %v", err)
	}
	if top := ms[len(ms)-1]; !strings.Contains(top.Optional, "shared:") {
		t.Errorf("rootfsPropagation rshared: the copy's propagation is %q", top.Optional)
	}
	e.must("delete", "-f", "c")
	if err := os.WriteFile(filepath.Join(rootfs, "from-host"), nil, 0o644); err != nil {
		t.Errorf("after delete, the host's rootfs is read-only: %v", err)
	}
	e.noLeftovers("c")
}

// TestHostRootfsRefusals: without a mount namespace, a rootfs that is the
// host's "/" and one that another such container runs on are refused,
// and nothing changes.
func TestHostRootfsRefusals(t *testing.T) {
	e := newEnv(t)
	// Only what this create could touch: other packages' tests mount
	// elsewhere at the same time.
	onSlash := func() []string {
		var out []string
		for _, m := range mountsUnder(t, "/") {
			if strings.HasPrefix(m, "/ ") || strings.HasPrefix(m, "/mnt/t ") {
				out = append(out, m)
			}
		}
		return out
	}
	before := onSlash()
	b := e.hostNSBundle("slash", func(s *specs.Spec) {
		s.Root.Path = "/"
		s.Mounts = []specs.Mount{{Destination: "/mnt/t", Type: "tmpfs", Source: "tmpfs"}}
	})
	failed(t, "rootfs /", e.rung("run", "--bundle", b, "c"), "root.path:")
	if got := onSlash(); !slices.Equal(got, before) {
		t.Errorf("the host's mounts on / and /mnt/t went from %v to %v", before, got)
	}
	e.noLeftovers("c")

	a := e.hostNSBundle("a", func(s *specs.Spec) {
		s.Mounts = []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}, {Destination: "/mnt/t", Type: "tmpfs", Source: "tmpfs"}}
	})
	e.must("run", "-d", "--bundle", a, "a")
	b = e.hostNSBundle("b", func(s *specs.Spec) { s.Root.Path = filepath.Join(a, "rootfs") })
	failed(t, "a second container on the rootfs", e.rung("run", "-d", "--bundle", b, "b"), "root.path: "+filepath.Join(a, "rootfs")+" is on the rootfs of container a")
	os.MkdirAll(filepath.Join(a, "rootfs", "home"), 0o755)
	b = e.hostNSBundle("nested", func(s *specs.Spec) { s.Root.Path = filepath.Join(a, "rootfs", "home") })
	failed(t, "a container on a rootfs below another's", e.rung("run", "-d", "--bundle", b, "b"), "is on the rootfs of container a")
	if r := e.rung("exec", "a", "test", "-d", "/mnt/t"); r.code != 0 {
		t.Errorf("the first container after the refusal: exit %d %q", r.code, r.stderr)
	}
	e.must("delete", "-f", "a")
	e.noLeftovers("a")
	e.noLeftovers("b")
}

// sharedDir makes dir/work a shared mount, as "/" is on a systemd host,
// with a peer at dir/peer (another namespace's view of it), so that what
// would propagate out of a container shows there; removed at the end.
func sharedDir(t *testing.T, dir string) (work, peer string) {
	t.Helper()
	work, peer = filepath.Join(dir, "work"), filepath.Join(dir, "peer")
	os.MkdirAll(work, 0o755)
	os.MkdirAll(peer, 0o755)
	for _, args := range [][]string{{"--bind", work, work}, {"--make-shared", work}, {"--bind", work, peer}} {
		if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
			t.Fatalf("mount %v: %v %s", args, err, out)
		}
	}
	t.Cleanup(func() {
		exec.Command("umount", "-R", "-l", peer).Run()
		exec.Command("umount", "-R", "-l", work).Run()
	})
	return work, peer
}

// TestHostMountsStayOffTheHost: on a host whose mounts are shared, the
// mounts of a container without a mount namespace show nowhere else, and
// removing them at delete removes no host mount, even below a bind of a
// shared host mount, whose copy would join the host's peer group.
func TestHostMountsStayOffTheHost(t *testing.T) {
	e := newEnv(t)
	work, peer := sharedDir(t, e.dir)
	// A shared host mount with a mount below it.
	src := filepath.Join(work, "src")
	os.MkdirAll(src, 0o755)
	mountTmpfs(t, src)
	os.MkdirAll(filepath.Join(src, "child"), 0o755)
	mountTmpfs(t, filepath.Join(src, "child"))
	b := e.hostNSBundle("work/b", func(s *specs.Spec) {
		s.Mounts = []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/mnt/src", Type: "bind", Source: src, Options: []string{"rbind"}},
			{Destination: "/mnt/src/sub", Type: "tmpfs", Source: "tmpfs"},
		}
	})
	peerRootfs := filepath.Join(peer, "b", "rootfs")
	// Mounted below the rootfs before create, so also on the peer.
	mountTmpfs(t, filepath.Join(b, "rootfs", "tmp"))
	beforeRootfs, beforePeer := mountsUnder(t, filepath.Join(b, "rootfs")), mountsUnder(t, peerRootfs)
	if len(beforePeer) != 1 {
		t.Fatalf("the peer does not see the mount below the rootfs: %v", beforePeer)
	}
	e.must("run", "-d", "--bundle", b, "c")
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if !strings.Contains(string(mi), " "+filepath.Join(b, "rootfs", "mnt/src/sub")+" ") {
		t.Fatalf("the container's mounts are not there:\n%s", mi)
	}
	if l := grepLines(string(mi), " "+filepath.Join(src, "sub")+" "); l != "" {
		t.Errorf("a mount below the container's bind of a shared mount appeared on the host source:\n%s", l)
	}
	if got := mountsUnder(t, peerRootfs+"/"); !slices.Equal(got, mountsUnder(t, filepath.Join(peerRootfs, "tmp"))) {
		t.Errorf("the container's mounts propagated to a peer of the host: %v", got)
	}
	e.must("delete", "-f", "c")
	mi, _ = os.ReadFile("/proc/self/mountinfo")
	if !strings.Contains(string(mi), " "+filepath.Join(src, "child")+" ") {
		t.Error("delete unmounted a host mount below the bind's source")
	}
	if !strings.Contains(string(mi), " "+filepath.Join(peer, "src", "child")+" ") {
		t.Error("delete unmounted the host mount's peer")
	}
	if got := mountsUnder(t, filepath.Join(b, "rootfs")); !slices.Equal(got, beforeRootfs) {
		t.Errorf("after delete, on the rootfs: %v, want what was there before create: %v", got, beforeRootfs)
	}
	if got := mountsUnder(t, peerRootfs); !slices.Equal(got, beforePeer) {
		t.Errorf("after delete, on the peer's rootfs: %v, want what was there before create: %v", got, beforePeer)
	}
	exec.Command("umount", "-R", "-l", peer).Run()
	exec.Command("umount", "-R", "-l", work).Run()
	e.noLeftovers("c")
}

// TestHostMountSlidUnderTheCopy: a host mount made, after create, on a
// peer's view of the rootfs propagates to the rootfs and slides under
// rung's copy (the kernel tucks it between the copy and its parent);
// delete still finds the copy and removes the container's mounts, and
// leaves the host's.
func TestHostMountSlidUnderTheCopy(t *testing.T) {
	e := newEnv(t)
	work, peer := sharedDir(t, e.dir)
	b := e.hostNSBundle("work/b", func(s *specs.Spec) {
		s.Mounts = []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}, {Destination: "/mnt/t", Type: "tmpfs", Source: "tmpfs"}}
	})
	rootfs := filepath.Join(b, "rootfs")
	e.must("run", "-d", "--bundle", b, "c")
	// A peer made after create has no copy of rung's copy: a mount on its
	// view of the rootfs reaches the rootfs below the copy.
	late := filepath.Join(e.dir, "late")
	os.MkdirAll(late, 0o755)
	if out, err := exec.Command("mount", "--bind", work, late).CombinedOutput(); err != nil {
		t.Fatalf("bind: %v %s", err, out)
	}
	if err := unix.Mount("tmpfs", filepath.Join(late, "b", "rootfs"), "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	during := mountsUnder(t, rootfs)
	e.must("delete", "-f", "c")
	after := mountsUnder(t, rootfs)
	for _, m := range after {
		if strings.HasPrefix(m, rootfs+"/proc ") || strings.HasPrefix(m, rootfs+"/mnt/t ") {
			t.Errorf("the container's mount %q outlived it (while running: %v)", m, during)
		}
	}
	if r := e.rung("state", "c"); r.code == 0 {
		t.Error("the container is still there")
	}
	for _, d := range []string{late, peer, work} {
		exec.Command("umount", "-R", "-l", d).Run()
	}
	e.noLeftovers("c")
}

// TestJoinedHostMountNamespace: a config that "joins" the runtime's own
// mount namespace by path has no mount namespace of its own. It is read as
// such: the host's "/" is not made a slave nor pivoted away from, the
// container is kept in its rootfs, and its mounts leave with it. The same
// goes for a uts namespace: the host's hostname is never set.
func TestJoinedHostMountNamespace(t *testing.T) {
	e := newEnv(t)
	self := func(ns string) string { return fmt.Sprintf("/proc/%d/ns/%s", os.Getpid(), ns) }
	propagation := func() string {
		out, _ := exec.Command("findmnt", "-n", "-o", "PROPAGATION", "/").Output()
		return strings.TrimSpace(string(out))
	}
	before := propagation()
	b := e.bundle("b", "none", func(s *specs.Spec) {
		s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.MountNamespace, Path: self("mnt")}}
		s.Root.Readonly = false
		s.Process.Args = []string{"sleep", "1000"}
		s.Mounts = []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}}
	})
	e.must("run", "-d", "--bundle", b, "c")
	if got := propagation(); got != before {
		t.Errorf("the host's / went from %s to %s", before, got)
	}
	if r := e.rung("exec", "c", "test", "-x", "/bin/probe"); r.code != 0 {
		t.Errorf("exec does not run in the container's rootfs: exit %d %q", r.code, r.stderr)
	}
	e.must("delete", "-f", "c")
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if l := grepLines(string(mi), " "+filepath.Join(b, "rootfs")); l != "" {
		t.Errorf("mounts left on the rootfs:\n%s", l)
	}
	e.noLeftovers("c")

	host, _ := os.Hostname()
	b = e.bundle("b2", "none", func(s *specs.Spec) {
		s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.UTSNamespace, Path: self("uts")}}
		s.Hostname = "not-the-host"
	})
	r := e.rung("run", "--bundle", b, "c2")
	if now, _ := os.Hostname(); now != host {
		unix.Sethostname([]byte(host))
		t.Fatalf("the host's hostname was set to %q", now)
	}
	failed(t, "hostname in the host's uts namespace", r, "hostname:")
	e.noLeftovers("c2")
}

// TestExecFollowsNoEscapedRoot: in the host's mount namespace the
// container's root is a chroot, which a process with CAP_SYS_CHROOT can
// leave; exec then refuses rather than run where the container went.
func TestExecFollowsNoEscapedRoot(t *testing.T) {
	e := newEnv(t)
	b := e.hostNSBundle("b", func(s *specs.Spec) {
		s.Mounts = []specs.Mount{{Destination: "/jail/bin", Type: "bind", Source: filepath.Join(e.dir, "b", "rootfs", "bin"), Options: []string{"rbind"}}}
		s.Process.Args = []string{"chroot", "/jail", "/bin/sleep", "1000"}
		for _, set := range []*[]string{&s.Process.Capabilities.Bounding, &s.Process.Capabilities.Effective, &s.Process.Capabilities.Permitted} {
			*set = append(*set, "CAP_SYS_CHROOT")
		}
	})
	e.must("run", "-d", "--bundle", b, "c")
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, _ := os.Readlink(fmt.Sprintf("/proc/%d/root", e.state("c").Pid))
		if strings.HasSuffix(l, "/jail") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container did not chroot: root %s", l)
		}
		time.Sleep(10 * time.Millisecond)
	}
	failed(t, "exec into a container that left its rootfs", e.rung("exec", "c", "true"), "no longer its rootfs")
	e.must("delete", "-f", "c")
	e.noLeftovers("c")
}

// hostNSBundle makes a bundle with no namespace at all and a writable root
// whose process sleeps, changed by edit.
func (e *env) hostNSBundle(name string, edit func(s *specs.Spec)) string {
	e.t.Helper()
	return e.bundle(name, "none", func(s *specs.Spec) {
		s.Linux.Namespaces = nil
		s.Root.Readonly = false
		s.Process.Args = []string{"sleep", "1000"}
		edit(s)
	})
}

// mountsUnder lists the host's mounts at prefix and below it, as
// "mountpoint fstype" lines, sorted.
func mountsUnder(t *testing.T, prefix string) []string {
	t.Helper()
	ms, err := mountinfo.GetMounts(mountinfo.PrefixFilter(filepath.Clean(prefix)))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		if strings.HasSuffix(prefix, "/") && m.Mountpoint == filepath.Clean(prefix) {
			continue // strictly below
		}
		out = append(out, m.Mountpoint+" "+m.FSType)
	}
	slices.Sort(out)
	return out
}

// mountTmpfs mounts a small tmpfs on dir, unmounted at the end.
func mountTmpfs(t *testing.T, dir string) {
	t.Helper()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
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
