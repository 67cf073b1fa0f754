package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// A seccomp agent for the tests: it listens on a unix socket, takes one
// message per connection (the container process state with the notify fd
// as SCM_RIGHTS, runtime spec "containerProcessState"), and answers every
// notification with success (0) without doing the syscall: a mkdir the
// filter hands to it "succeeds" and makes no directory. Seeing
// "made" with no directory afterwards proves the syscall went to the agent.

// The kernel's seccomp notify ABI (include/uapi/linux/seccomp.h).
type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Nr    int32
	Arch  uint32
	IP    uint64
	Args  [6]uint64
}

type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

const (
	seccompIoctlNotifRecv = 0xc0502100 // _IOWR('!', 0, struct seccomp_notif)
	seccompIoctlNotifSend = 0xc0182101 // _IOWR('!', 1, struct seccomp_notif_resp)
)

type agent struct {
	t    *testing.T
	path string
	ln   int
	mu   sync.Mutex
	got  []specs.ContainerProcessState
	nrs  map[int32]int // notified syscall numbers, counted
	wg   sync.WaitGroup
	once sync.Once
}

// stop closes the listening socket: shutdown wakes the blocked accept,
// which close alone does not.
func (a *agent) stop() {
	a.once.Do(func() {
		unix.Shutdown(a.ln, unix.SHUT_RDWR)
		unix.Close(a.ln)
	})
}

func newAgent(t *testing.T, path string) *agent {
	t.Helper()
	ln, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(ln, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(ln, 16); err != nil {
		t.Fatal(err)
	}
	a := &agent{t: t, path: path, ln: ln, nrs: map[int32]int{}}
	a.wg.Add(1)
	go a.accept()
	t.Cleanup(func() {
		a.stop()
		a.wg.Wait()
		os.Remove(path)
	})
	return a
}

func (a *agent) accept() {
	defer a.wg.Done()
	for {
		c, _, err := unix.Accept4(a.ln, unix.SOCK_CLOEXEC)
		if err != nil {
			return
		}
		buf, oob := make([]byte, 64<<10), make([]byte, unix.CmsgSpace(4*4))
		n, oobn, _, _, err := unix.Recvmsg(c, buf, oob, unix.MSG_CMSG_CLOEXEC)
		unix.Close(c)
		if err != nil {
			a.t.Errorf("agent: recvmsg: %v", err)
			continue
		}
		var fds []int
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				if f, err := unix.ParseUnixRights(&m); err == nil {
					fds = append(fds, f...)
				}
			}
		}
		var st specs.ContainerProcessState
		if err := json.Unmarshal(buf[:n], &st); err != nil {
			a.t.Errorf("agent: state %q: %v", buf[:n], err)
		}
		a.mu.Lock()
		a.got = append(a.got, st)
		a.mu.Unlock()
		if len(fds) != 1 {
			a.t.Errorf("agent: got %d fds with %q", len(fds), buf[:n])
			for _, f := range fds {
				unix.Close(f)
			}
			continue
		}
		a.wg.Add(1)
		go a.serve(fds[0])
	}
}

// serve answers notifications until every task under the filter is gone
// (the fd then polls POLLHUP).
func (a *agent) serve(fd int) {
	defer a.wg.Done()
	defer unix.Close(fd)
	for {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfd, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			return
		}
		if pfd[0].Revents&unix.POLLIN == 0 {
			return // POLLHUP: no task left
		}
		var req seccompNotif
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), seccompIoctlNotifRecv, uintptr(unsafe.Pointer(&req))); e != 0 {
			if e == unix.EINTR || e == unix.ENOENT {
				continue
			}
			return
		}
		a.mu.Lock()
		a.nrs[req.Nr]++
		a.mu.Unlock()
		resp := seccompNotifResp{ID: req.ID} // success, value 0, nothing done
		unix.Syscall(unix.SYS_IOCTL, uintptr(fd), seccompIoctlNotifSend, uintptr(unsafe.Pointer(&resp)))
	}
}

func (a *agent) states() []specs.ContainerProcessState {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]specs.ContainerProcessState{}, a.got...)
}

// waitStates waits, up to 10 s, until the agent has stored n states, and
// returns what it has.
func (a *agent) waitStates(n int) []specs.ContainerProcessState {
	deadline := time.Now().Add(10 * time.Second)
	for len(a.states()) < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return a.states()
}

func (a *agent) reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.got, a.nrs = nil, map[int32]int{}
}

// notifyProfile allows everything and hands mkdir and mkdirat to the agent.
func notifyProfile(listener string) *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{
		DefaultAction:    specs.ActAllow,
		ListenerPath:     listener,
		ListenerMetadata: "rung-test-metadata",
		Syscalls:         []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActNotify}},
	}
}

const mkdirScript = "mkdir /tmp/intercepted && echo made; test -d /tmp/intercepted && echo exists || echo absent"

// A container's mkdir goes to the agent, for run, create/start and exec,
// with and without noNewPrivileges (the filter is loaded before or after
// the user switch); runc 1.1.5 does the same on the same bundle.
func TestSeccompNotify(t *testing.T) {
	e := newEnv(t)
	a := newAgent(t, filepath.Join(e.dir, "agent.sock"))
	mkdirNr, _ := libseccomp.GetSyscallFromName("mkdir")
	mkdiratNr, _ := libseccomp.GetSyscallFromName("mkdirat")
	for _, nnp := range []bool{false, true} {
		name := map[bool]string{false: "privs", true: "nnp"}[nnp]
		b := e.bundle(name, "", func(s *specs.Spec) {
			s.Root.Readonly = false
			s.Process.User = specs.User{UID: 1000, GID: 1000}
			s.Process.NoNewPrivileges = nnp
			s.Process.Args = []string{"sh", "-c", mkdirScript}
			s.Linux.Seccomp = notifyProfile(a.path)
		})
		a.reset()
		ours, theirs := e.both("sn-"+name, "run", "--bundle", b, "ID")
		if theirs.code != 0 || theirs.stdout != "made\nabsent\n" {
			t.Fatalf("%s: runc (the reference): exit %d %q %q", name, theirs.code, theirs.stdout, theirs.stderr)
		}
		if ours.code != 0 || ours.stdout != theirs.stdout {
			t.Errorf("%s: rung run: exit %d %q %q; runc %q", name, ours.code, ours.stdout, ours.stderr, theirs.stdout)
		}
		var mine *specs.ContainerProcessState
		for i, st := range a.states() {
			if st.State.ID == "sn-"+name+"-rung" {
				mine = &a.states()[i]
			}
		}
		if mine == nil {
			t.Fatalf("%s: the agent got no state from rung: %+v", name, a.states())
		}
		if mine.Version == "" || len(mine.Fds) != 1 || mine.Fds[0] != "seccompFd" || mine.Pid <= 0 ||
			mine.Metadata != "rung-test-metadata" || mine.State.Status != specs.StateCreating || mine.State.Pid != mine.Pid || mine.State.Bundle != b {
			t.Errorf("%s: state sent to the agent: %+v", name, *mine)
		}
		a.mu.Lock()
		if a.nrs[int32(mkdirNr)]+a.nrs[int32(mkdiratNr)] < 2 {
			t.Errorf("%s: the agent saw %v, want a mkdir from each runtime", name, a.nrs)
		}
		a.mu.Unlock()
		e.noLeftovers("sn-" + name + "-rung")
	}

	// create, start, then exec into the running container.
	b := e.bundle("ce", "", func(s *specs.Spec) {
		s.Root.Readonly = false
		s.Process.Args = []string{"sh", "-c", "{ " + mkdirScript + "; } >/tmp/out; sleep 1000"}
		s.Linux.Seccomp = notifyProfile(a.path)
	})
	a.reset()
	// Deleted before the agent's cleanup waits for its connections to end
	// (cleanups run last first): a container left holding the notify fd
	// would keep that wait from ever returning.
	t.Cleanup(func() { e.rung("delete", "--force", "sn-ce") })
	e.must("create", "--bundle", b, "sn-ce")
	// The agent stores what it got in its own goroutine, possibly after
	// create has returned.
	if sts := a.waitStates(1); len(sts) != 1 || sts[0].State.Status != specs.StateCreating {
		t.Fatalf("create: the agent got %+v", sts)
	}
	e.must("start", "sn-ce")
	r := e.must("exec", "sn-ce", "sh", "-c", "while ! test -s /tmp/out; do sleep 0.01; done; cat /tmp/out; "+strings.ReplaceAll(mkdirScript, "intercepted", "exec-dir"))
	if r.stdout != "made\nabsent\nmade\nabsent\n" {
		t.Errorf("create/start/exec: %q", r.stdout)
	}
	sts := a.states()
	if len(sts) != 2 || sts[1].State.Status != specs.StateRunning || sts[1].Pid == sts[1].State.Pid || sts[1].State.Pid != e.state("sn-ce").Pid {
		t.Errorf("exec: the agent got %+v", sts)
	}
	e.must("delete", "--force", "sn-ce")
	e.noLeftovers("sn-ce")
}

// The rules runc keeps, and no agent: each is one clear error, as with
// runc, and nothing is left behind.
func TestSeccompNotifyErrors(t *testing.T) {
	e := newEnv(t)
	missing := filepath.Join(e.dir, "no-agent.sock")
	cases := []struct {
		name string
		sc   *specs.LinuxSeccomp
		want string
	}{
		{"no-agent", notifyProfile(missing), "unable to start container process: failed to connect with seccomp agent specified in the seccomp profile: dial unix " + missing + ": connect: no such file or directory"},
		{"no-listener", notifyProfile(""), "listenerPath"},
		{"default-notify", &specs.LinuxSeccomp{DefaultAction: specs.ActNotify, ListenerPath: missing}, "default action"},
		{"notify-write", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: missing,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"write"}, Action: specs.ActNotify}}}, "write"},
	}
	for _, c := range cases {
		b := e.bundle(c.name, "", func(s *specs.Spec) {
			s.Process.Args = []string{"true"}
			s.Linux.Seccomp = c.sc
		})
		ours, theirs := e.both(c.name, "run", "--bundle", b, "ID")
		t.Logf("%s: runc exit %d %q; rung %q", c.name, theirs.code, theirs.stderr, ours.stderr)
		if theirs.code == 0 {
			t.Fatalf("%s: runc (the reference) accepted the config", c.name)
		}
		if ours.code != theirs.code || !strings.Contains(ours.stderr, c.want) {
			t.Errorf("%s: rung exit %d %q; runc exit %d", c.name, ours.code, ours.stderr, theirs.code)
		}
		e.noLeftovers(c.name + "-rung")
	}
	// A listenerPath with no SCMP_ACT_NOTIFY rule: there is no notify fd,
	// so no agent is needed, as with runc.
	b0 := e.bundle("listener-unused", "", func(s *specs.Spec) {
		s.Process.Args = []string{"true"}
		s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: missing}
	})
	if ours, theirs := e.both("lu", "run", "--bundle", b0, "ID"); ours.code != theirs.code {
		t.Errorf("listenerPath without notify rules: rung exit %d %q, runc exit %d %q", ours.code, ours.stderr, theirs.code, theirs.stderr)
	} else {
		t.Logf("listenerPath without notify rules: both exit %d (runc %q)", theirs.code, theirs.stderr)
	}
	e.noLeftovers("lu-rung")
	// exec into a container whose agent went away.
	sock := filepath.Join(e.dir, "gone.sock")
	a := newAgent(t, sock)
	b := e.bundle("gone", "", func(s *specs.Spec) {
		s.Process.Args = []string{"sleep", "1000"}
		s.Linux.Seccomp = notifyProfile(sock)
	})
	e.must("run", "-d", "--bundle", b, "gone")
	a.stop()
	os.Remove(sock)
	before := len(e.processes())
	r := e.rung("exec", "gone", "true")
	failed(t, "exec without an agent", r, "seccomp agent")
	if after := len(e.processes()); after != before {
		t.Errorf("exec without an agent left processes: %d before, %d after", before, after)
	}
	e.must("delete", "--force", "gone")
	e.noLeftovers("gone")
}
