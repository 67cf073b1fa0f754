package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fullSocket listens on path with a backlog that is already full: a
// connect to it blocks until accept is called (the returned func).
func fullSocket(t *testing.T, path string) (accept func()) {
	t.Helper()
	l, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(l, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(l, 0); err != nil {
		t.Fatal(err)
	}
	filler, _ := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err := unix.Connect(filler, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	done := false
	accept = func() {
		if done {
			return
		}
		done = true
		go func() {
			for {
				c, _, err := unix.Accept(l)
				if err != nil {
					return
				}
				unix.Close(c)
			}
		}()
	}
	t.Cleanup(func() { accept(); unix.Close(filler); unix.Shutdown(l, unix.SHUT_RDWR); unix.Close(l) })
	return accept
}

// within waits for a rung call running in the background, up to callBound.
func within(t *testing.T, done <-chan result, what string) result {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(callBound):
		t.Fatalf("%s: no answer within %s", what, callBound)
		return result{}
	}
}

// TestDeleteWaitsForCreate (issue 15 §6): a create that has written its
// state file but is still running (here held up sending the pidfd to a
// socket whose backlog is full) holds its state directory's lock. A
// delete of that ID waits for it instead of removing the directory under
// it; the old binary deleted it at once, a second create of the ID then
// succeeded, and the first create, failing, removed the second
// container's state directory and cgroup.
func TestDeleteWaitsForCreate(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "strict", sleeper)
	accept := fullSocket(t, filepath.Join(e.dir, "pidfd.sock"))
	first := exec.Command(rungBin, "--root", e.root, "create", "--pidfd-socket", filepath.Join(e.dir, "pidfd.sock"), "--bundle", b, "x")
	firstDone := make(chan result, 1)
	go func() { firstDone <- run(first) }()
	// Wait until the first create has recorded the container.
	waitFile(t, filepath.Join(e.root, "x", "state.json"))
	del := exec.Command(rungBin, "--root", e.root, "delete", "--force", "x")
	delDone := make(chan result, 1)
	go func() { delDone <- run(del) }()
	var delResult *result
	select {
	case r := <-delDone:
		t.Errorf("delete returned (exit %d %q) while the create still held the container", r.code, r.stderr)
		delResult = &r
	case <-time.After(2 * time.Second):
	}
	second := e.rung("create", "--bundle", b, "x")
	if second.code == 0 || !strings.Contains(second.stderr, "container with id exists") {
		t.Errorf("second create while the first runs: exit %d %q, want it refused", second.code, second.stderr)
	}
	accept()
	if r := within(t, firstDone, "first create"); r.code != 0 {
		t.Errorf("first create: exit %d %q", r.code, r.stderr)
	}
	if second.code == 0 {
		if r := e.rung("state", "x"); r.code != 0 {
			t.Errorf("the failing first create removed the second container x: %q", r.stderr)
		}
	}
	if delResult == nil {
		r := within(t, delDone, "delete")
		delResult = &r
	}
	if delResult.code != 0 {
		t.Errorf("delete: exit %d %q", delResult.code, delResult.stderr)
	}
	e.noLeftovers("x")
	// The ID is free again, and a new container of it is left alone.
	e.must("create", "--bundle", b, "x")
	if st := e.state("x"); st.Status != "created" {
		t.Errorf("new container x: %s", st.Status)
	}
	e.must("delete", "--force", "x")
	e.noLeftovers("x")
	if _, err := os.Stat(filepath.Join(e.root, "x")); !os.IsNotExist(err) {
		t.Errorf("state directory left: %v", err)
	}
}
