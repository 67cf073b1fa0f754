package tests

import (
	"fmt"
	"net"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"os"
	"os/exec"
	"path/filepath"
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
				// Take the message before closing, or the sender may
				// find the connection closed (EPIPE).
				buf, oob := make([]byte, 64), make([]byte, unix.CmsgSpace(4))
				if _, oobn, _, _, err := unix.Recvmsg(c, buf, oob, 0); err == nil {
					if msgs, _ := unix.ParseSocketControlMessage(oob[:oobn]); len(msgs) == 1 {
						fds, _ := unix.ParseUnixRights(&msgs[0])
						for _, fd := range fds {
							unix.Close(fd)
						}
					}
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
	first := exec.Command(rungBin, "--root", e.root, "create", "--pidfd-socket", filepath.Join(e.dir, "pidfd.sock"), "--bundle", b, "dw-x")
	firstDone := make(chan result, 1)
	go func() { firstDone <- run(first) }()
	// Wait until the first create has recorded the container.
	waitFile(t, filepath.Join(e.root, "dw-x", "state.json"))
	del := exec.Command(rungBin, "--root", e.root, "delete", "--force", "dw-x")
	delDone := make(chan result, 1)
	go func() { delDone <- run(del) }()
	var delResult *result
	select {
	case r := <-delDone:
		t.Errorf("delete returned (exit %d %q) while the create still held the container", r.code, r.stderr)
		delResult = &r
	case <-time.After(2 * time.Second):
	}
	second := e.rung("create", "--bundle", b, "dw-x")
	failed(t, "second create while the first runs", second, "container with id exists")
	accept()
	if r := within(t, firstDone, "first create"); r.code != 0 {
		t.Errorf("first create: exit %d %q", r.code, r.stderr)
	}
	if second.code == 0 {
		if r := e.rung("state", "dw-x"); r.code != 0 {
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
	e.noLeftovers("dw-x")
	// The ID is free again, and a new container of it is left alone.
	e.must("create", "--bundle", b, "dw-x")
	if st := e.state("dw-x"); st.Status != "created" {
		t.Errorf("new container x: %s", st.Status)
	}
	e.must("delete", "--force", "dw-x")
	e.noLeftovers("dw-x")
	if _, err := os.Stat(filepath.Join(e.root, "dw-x")); !os.IsNotExist(err) {
		t.Errorf("state directory left: %v", err)
	}
}

// pidfdListener accepts connections on path and hands on the one fd each
// one carries (-1 for none).
func pidfdListener(t *testing.T, path string) <-chan int {
	t.Helper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got := make(chan int, 64)
	go func() {
		for {
			conn, err := l.AcceptUnix()
			if err != nil {
				return
			}
			buf, oob := make([]byte, 64), make([]byte, unix.CmsgSpace(4))
			_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
			conn.Close()
			fd := -1
			if msgs, _ := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && len(msgs) == 1 {
				if fds, _ := unix.ParseUnixRights(&msgs[0]); len(fds) == 1 {
					fd = fds[0]
				}
			}
			got <- fd
		}
	}()
	return got
}

// TestExecDetachPidfdOfQuickProcess (issue 15 §6): exec --detach
// --pidfd-socket of a process that exits at once. The pidfd is taken
// from the clone (or, after the constructor's fork into the container's
// pid namespace, before the process is sent its config, with rung as
// subreaper), so it is always the process', even when that is long
// gone. The old binary opened it by pid after the exec, when the process
// may have exited and been reaped: "pidfd_open: no such process", or the
// pid of a stranger.
func TestExecDetachPidfdOfQuickProcess(t *testing.T) {
	e := newEnv(t)
	sock := filepath.Join(e.dir, "pidfd.sock")
	got := pidfdListener(t, sock)
	for _, shape := range []string{"strict", "none"} {
		var b string
		if shape == "none" {
			b = e.hostNSBundle(shape, func(s *specs.Spec) { s.Mounts = nil; s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil })
		} else {
			b = e.bundle(shape, shape, sleeper)
		}
		id := "p-" + shape
		e.must("run", "-d", "--bundle", b, id)
		fails := 0
		for i := 0; i < 25; i++ {
			pidFile := filepath.Join(e.dir, fmt.Sprintf("%s-%d.pid", id, i))
			r := e.bounded(nil, "exec", "--detach", "--pid-file", pidFile, "--pidfd-socket", sock, id, "true")
			if r.code != 0 {
				fails++
				t.Errorf("%s: exec %d: exit %d %q", shape, i, r.code, r.stderr)
				continue
			}
			var fd int
			select {
			case fd = <-got:
			case <-time.After(callBound):
				t.Fatalf("%s: exec %d: no pidfd sent", shape, i)
			}
			if fd < 0 {
				t.Fatalf("%s: exec %d: a message without a pidfd", shape, i)
			}
			// The process has exited (true): its pidfd says so.
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			if n, err := unix.Poll(fds, int(callBound/time.Millisecond)); n != 1 || err != nil {
				t.Errorf("%s: exec %d: the pidfd never reported the exit of true (%d, %v)", shape, i, n, err)
			}
			unix.Close(fd)
		}
		if fails > 0 {
			t.Logf("%s: %d of 25 execs failed", shape, fails)
		}
		e.must("delete", "--force", id)
		e.noLeftovers(id)
	}
}

// TestHostRootfsSharedAcrossRoots (issue 15 §6): the refusal of a rootfs
// that another container without a mount namespace has its copy on, or
// below or above it, holds across state roots: the mount table is the
// host's. The old binary looked only under the same --root and stacked a
// second copy, whose delete would take the first container's mounts.
func TestHostRootfsSharedAcrossRoots(t *testing.T) {
	e := newEnv(t)
	other := newEnv(t) // another --root
	a := e.hostNSBundle("a", func(s *specs.Spec) {
		s.Mounts = []specs.Mount{{Destination: "/mnt/t", Type: "tmpfs", Source: "tmpfs"}}
	})
	e.must("run", "-d", "--bundle", a, "a")
	os.MkdirAll(filepath.Join(a, "rootfs", "home"), 0o755)
	for i, rootfs := range []string{filepath.Join(a, "rootfs"), filepath.Join(a, "rootfs", "home")} {
		b := other.hostNSBundle(fmt.Sprintf("b%d", i), func(s *specs.Spec) { s.Root.Path = rootfs })
		if !failed(t, "a container under another --root on "+rootfs, other.rung("run", "-d", "--bundle", b, "b"), "is on the rootfs of container a") {
			other.rung("delete", "--force", "b")
		}
		other.noLeftovers("b")
	}
	if r := e.rung("exec", "a", "test", "-d", "/mnt/t"); r.code != 0 {
		t.Errorf("the first container after the refusals: exit %d %q", r.code, r.stderr)
	}
	e.must("delete", "-f", "a")
	e.noLeftovers("a")
	// Once a is gone, its rootfs is free under any root.
	b := other.hostNSBundle("b3", func(s *specs.Spec) { s.Root.Path = filepath.Join(a, "rootfs") })
	other.must("run", "-d", "--bundle", b, "b")
	other.must("delete", "-f", "b")
	other.noLeftovers("b")
}
