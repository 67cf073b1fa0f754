package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// oneClearError checks a failed rung call: non-zero, one error line that
// says what failed, no Go panic or runtime crash.
func oneClearError(t *testing.T, what string, r result, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if r.code == 0 || len(lines) != 1 || !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, "goroutine ") {
		t.Errorf("%s: exit %d %q, want one error line with %q", what, r.code, r.stderr, want)
	}
}

// bystander runs a container under its own root that must come through
// the test undisturbed; the returned func checks that and removes it.
func bystander(t *testing.T) func() {
	t.Helper()
	o := newEnv(t)
	b := o.bundle("by", "strict", sleeper)
	id := fmt.Sprintf("by-%d", os.Getpid())
	o.must("run", "-d", "--bundle", b, id)
	pid := o.state(id).Pid
	return func() {
		t.Helper()
		if st := o.state(id); st.Status != "running" || st.Pid != pid {
			t.Errorf("the bystander container was disturbed: %s pid %d (was %d)", st.Status, st.Pid, pid)
		}
		o.must("delete", "--force", id)
		o.noLeftovers(id)
	}
}

// TestStateRootFull (issue 15 §5): the state root on a small tmpfs that
// is full. create fails with one clear error and leaves nothing; a
// container created before the disk filled is still stated and deleted.
func TestStateRootFull(t *testing.T) {
	by := bystander(t)
	defer by()
	e := newEnv(t)
	e.root = outsideRoot(t)
	if err := unix.Mount("tmpfs", e.root, "tmpfs", 0, "size=256k,mode=700"); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(e.root, unix.MNT_DETACH)
	b := e.bundle("b", "strict", sleeper)
	e.must("run", "-d", "--bundle", b, "before")
	// Fill it.
	f, _ := os.Create(filepath.Join(e.root, "filler"))
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	f.Close()
	r := e.rung("create", "--bundle", b, "full")
	oneClearError(t, "create on a full state root", r, "no space left on device")
	if st := e.state("before"); st.Status != "running" {
		t.Errorf("the container made before the disk filled: %s", st.Status)
	}
	e.must("delete", "--force", "before")
	e.noLeftovers("before")
	e.noLeftovers("full")
	os.Remove(filepath.Join(e.root, "filler"))
}

// outsideRoot is a state root outside the env's directory, for a test
// that mounts on it: noLeftovers looks for mounts under the directory.
func outsideRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "rung-root-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o700)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// TestStateRootReadOnly (issue 15 §5): a read-only state root: create
// fails with one clear error naming the state directory, nothing left.
func TestStateRootReadOnly(t *testing.T) {
	by := bystander(t)
	defer by()
	e := newEnv(t)
	e.root = outsideRoot(t)
	if err := unix.Mount("tmpfs", e.root, "tmpfs", unix.MS_RDONLY, "mode=700"); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(e.root, unix.MNT_DETACH)
	b := e.bundle("b", "strict", sleeper)
	r := e.rung("create", "--bundle", b, "ro")
	oneClearError(t, "create on a read-only state root", r, "create state directory: mkdir "+filepath.Join(e.root, "ro")+": read-only file system")
	e.noLeftovers("ro")
	if r := e.rung("list", "-q"); r.code != 0 || r.stdout != "" {
		t.Errorf("list of a read-only state root: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
}

// TestPidLimitReached (issue 15 §5): rung run inside a pids cgroup whose
// limit leaves no room for the container's init. create fails with one
// clear error and leaves nothing, at every limit tried.
func TestPidLimitReached(t *testing.T) {
	by := bystander(t)
	defer by()
	e := newEnv(t)
	b := e.bundle("b", "strict", sleeper)
	cg := filepath.Join("/sys/fs/cgroup/pids", fmt.Sprintf("rung-pidlimit-%d", os.Getpid()))
	if _, err := os.Stat("/sys/fs/cgroup/pids"); err != nil {
		cg = filepath.Join("/sys/fs/cgroup", fmt.Sprintf("rung-pidlimit-%d", os.Getpid())) // cgroup v2
	}
	if err := os.Mkdir(cg, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(cg)
	failed := 0
	for _, limit := range []int{1, 4, 8, 10, 12, 14, 16, 20, 24, 32} {
		if err := os.WriteFile(filepath.Join(cg, "pids.max"), []byte(fmt.Sprint(limit)), 0o644); err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("pl%d", limit)
		// The shell moves itself in, then becomes rung.
		cmd := exec.Command("sh", "-c", `echo $$ > "$0"/cgroup.procs && exec "$@"`, cg, rungBin, "--root", e.root, "create", "--bundle", b, id)
		r := run(cmd)
		if r.code == 0 {
			e.must("delete", "--force", id)
		} else {
			failed++
			checkFailure(t, fmt.Sprintf("pids.max %d", limit), r, "pthread_create failed: Resource temporarily unavailable")
		}
		e.noLeftovers(id)
	}
	if failed == 0 {
		t.Error("no limit was low enough to make create fail")
	}
	if procs, _ := os.ReadFile(filepath.Join(cg, "cgroup.procs")); len(procs) != 0 {
		t.Errorf("processes left in the limited cgroup: %s", procs)
	}
}

// checkFailure checks a create that failed for want of a resource: one
// clear error line from rung, or, at a limit so low that the Go runtime
// itself cannot start (before any of rung's code runs, so nothing can be
// left), the runtime's own fatal message naming the resource.
func checkFailure(t *testing.T, what string, r result, runtimeAbort string) {
	t.Helper()
	if strings.Contains(r.stderr, runtimeAbort) {
		t.Logf("%s: the Go runtime could not start: %s", what, firstLine(r.stderr))
		return
	}
	oneClearError(t, what, r, "rung create failed: ")
	t.Logf("%s: %s", what, firstLine(r.stderr))
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

// TestLowNofile (issue 15 §5): rung under a low RLIMIT_NOFILE: at each
// limit create either works or fails with one clear error, and leaves
// nothing either way.
func TestLowNofile(t *testing.T) {
	by := bystander(t)
	defer by()
	e := newEnv(t)
	b := e.bundle("b", "strict", sleeper)
	failed := 0
	for _, n := range []int{4, 6, 8, 10, 12, 14, 16, 20, 32, 40, 64} {
		id := fmt.Sprintf("nf%d", n)
		r := run(exec.Command("prlimit", fmt.Sprintf("--nofile=%d:%d", n, n), rungBin, "--root", e.root, "create", "--bundle", b, id))
		if r.code == 0 {
			e.must("delete", "--force", id)
		} else {
			failed++
			// The Go runtime's own poller (epoll, or eventfd on older
			// kernels) may fail with EMFILE before rung runs at all.
			checkFailure(t, fmt.Sprintf("RLIMIT_NOFILE %d", n), r, "failed with 24")
		}
		e.noLeftovers(id)
	}
	if failed == 0 {
		t.Error("no limit was low enough to make create fail")
	}
}

// TestBundleDeletedWhileRunning (issue 15 §5): the bundle removed while
// the container runs; state, exec and delete still work (they use the
// config recorded at create), and nothing is left.
func TestBundleDeletedWhileRunning(t *testing.T) {
	e := newEnv(t)
	bundles := map[string]string{
		"strict": e.bundle("strict", "strict", sleeper),
		"none":   e.hostNSBundle("none", func(s *specs.Spec) { s.Mounts = nil; s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil }),
	}
	for shape, b := range bundles {
		id := "gone-" + shape
		e.must("run", "-d", "--bundle", b, id)
		exec.Command("rm", "-rf", b).Run() // a mount point (the rootfs copy) stays
		if _, err := os.Stat(filepath.Join(b, "config.json")); err == nil {
			t.Fatalf("%s: the bundle's config is still there", shape)
		}
		if st := e.state(id); st.Status != "running" {
			t.Errorf("%s: state after the bundle went: %s", shape, st.Status)
		}
		e.must("delete", "--force", id)
		e.noLeftovers(id)
	}
}

// TestPlantedSymlinkStateRoot (issue 15 §5): a state root, or a state
// directory, that is a symlink another user planted is refused and never
// followed: nothing is created or read through it.
func TestPlantedSymlinkStateRoot(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "strict", sleeper)
	target := filepath.Join(e.dir, "elsewhere")
	os.MkdirAll(target, 0o700)
	link := filepath.Join(e.dir, "root-link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(link, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"create", "--bundle", b, "s"}, {"run", "-d", "--bundle", b, "s"}, {"list"}, {"state", "s"}, {"delete", "--force", "s"}} {
		r := run(exec.Command(rungBin, append([]string{"--root", link}, args...)...))
		oneClearError(t, "rung "+args[0]+" with a planted symlink root", r, "is a symlink owned by uid 65534")
	}
	if entries, _ := os.ReadDir(target); len(entries) != 0 {
		t.Errorf("rung wrote through the planted link: %v", entries)
	}
	e.noLeftovers("s")

	// A state directory planted as a symlink to a fake container whose
	// record names a process to kill: never read, never followed.
	e.must("run", "-d", "--bundle", b, "real")
	victim := exec.Command("sleep", "1000")
	victim.Start()
	defer func() { victim.Process.Kill(); victim.Wait() }()
	fake := filepath.Join(e.dir, "fake")
	os.MkdirAll(fake, 0o755)
	st, _ := os.ReadFile(filepath.Join(e.root, "real", "state.json"))
	os.WriteFile(filepath.Join(fake, "state.json"), []byte(strings.Replace(string(st), fmt.Sprintf(`"pid":%d`, e.state("real").Pid), fmt.Sprintf(`"pid":%d`, victim.Process.Pid), 1)), 0o644)
	if err := os.Symlink(fake, filepath.Join(e.root, "planted")); err != nil {
		t.Fatal(err)
	}
	os.Lchown(filepath.Join(e.root, "planted"), 65534, 65534)
	for _, args := range [][]string{{"state", "planted"}, {"delete", "--force", "planted"}, {"kill", "planted", "KILL"}} {
		r := e.rung(args...)
		oneClearError(t, "rung "+args[0]+" of a planted state directory", r, "is a symlink: refused")
	}
	if err := victim.Process.Signal(unix.Signal(0)); err != nil {
		t.Errorf("the process named by the planted record was killed: %v", err)
	}
	if r := e.must("list", "-q"); strings.TrimSpace(r.stdout) != "real" {
		t.Errorf("list with a planted state directory: %q", r.stdout)
	}
	os.Remove(filepath.Join(e.root, "planted"))
	e.must("delete", "--force", "real")
	e.noLeftovers("real")
}
