package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rungrt/rung/hostroot"
	"github.com/rungrt/rung/initproc"
	"github.com/rungrt/rung/internal/killpoint"
	"github.com/rungrt/rung/internal/phase"
	"github.com/rungrt/rung/internal/statefs"
	"github.com/rungrt/rung/libns"
)

// ExecOptions are the inputs of `rung exec`.
type ExecOptions struct {
	Process       *specs.Process
	Detach        bool
	PidFile       string
	ConsoleSocket string // where the pty master goes when Process.Terminal
	PreserveFds   int    // rung's fds 3 .. 3+N-1 go on to the process
	PidfdSocket   string // receives a pidfd of the process
	// IgnorePaused execs into a paused container: the process joins the
	// frozen cgroup and starts once the container is resumed.
	IgnorePaused bool
	// SubCgroups (--cgroup, from ParseSubCgroups) puts the process in
	// sub-cgroups of the container's.
	SubCgroups map[string]string
}

// Exec runs a new process in the container: in every namespace the
// container has apart from the runtime's, in its cgroup, with the
// process' own user, capabilities, rlimits, no_new_privs and the
// container's seccomp profile. In the foreground it returns the process'
// exit status (128+N after signal N).
func (c *Container) Exec(o ExecOptions) (_ int, err error) {
	warmCgroupAttach()
	x, err := c.prepareExec(o)
	if err != nil {
		return -1, err
	}
	phase.Mark("exec-prepared")
	defer func() { x.finish(err) }()
	if err := x.launch(); err != nil {
		return -1, err
	}
	if err := x.handshake(); err != nil {
		return -1, err
	}
	x.started = true
	if o.PidFile != "" {
		if err := statefs.WriteFileAtomic(o.PidFile, []byte(strconv.Itoa(x.pid)), 0o644); err != nil {
			return -1, fmt.Errorf("write pid file: %w", err)
		}
	}
	if o.PidfdSocket != "" {
		if err := sendPidfdFd(o.PidfdSocket, x.pidfd); err != nil {
			x.kill()
			return -1, err
		}
	}
	if o.Detach {
		return 0, nil
	}
	if x.tty == nil {
		return waitForwarding(x.pid)
	}
	return (&CreatedContainer{Container: &Container{Rec: &Record{Pid: x.pid}}, tty: x.tty}).Wait()
}

// execution is one Exec under way.
type execution struct {
	c           *Container
	o           ExecOptions
	cgroupPaths map[string]string
	selinuxOn   bool
	joins       []libns.Join
	tty         *ttyProxy
	console     *os.File
	root        *os.File // init's root, for a container without a mount namespace
	log         *childLog
	seccomp     *specs.LinuxSeccomp

	proc    *launched
	pid     int
	pidfd   int  // from CLONE_PIDFD, or -1
	reaped  bool // the process is gone and reaped
	started bool // the process exec'd: an error no longer kills it
}

// prepareExec checks the container and the options and opens what the
// process gets: the namespaces, the console, init's root.
func (c *Container) prepareExec(o ExecOptions) (_ *execution, err error) {
	switch c.Status() {
	case Stopped:
		return nil, errNotRunning
	case Paused:
		// Its cgroup is frozen: the new process would freeze on joining it.
		if !o.IgnorePaused {
			return nil, errors.New("cannot exec in a paused container (use --ignore-paused to override)")
		}
	}
	x := &execution{c: c, o: o, pidfd: -1}
	if x.cgroupPaths, err = execCgroupPaths(c.Rec.Cgroup.dirs(), o.SubCgroups); err != nil {
		return nil, err
	}
	if err := checkPreserved(o.PreserveFds); err != nil {
		return nil, err
	}
	if x.selinuxOn, err = selinuxLabels(o.Process, ""); err != nil {
		return nil, err
	}
	if x.joins, err = c.namespacesToJoin(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			x.finish(err)
		}
	}()
	if o.Process.Terminal && o.ConsoleSocket == "" && !o.Detach {
		if x.tty, err = newTTYProxy(); err != nil {
			return nil, err
		}
	}
	if x.console, err = consoleFor(o.Process, o.ConsoleSocket, x.tty); err != nil {
		return nil, err
	}
	if x.root, err = c.execRoot(); err != nil {
		return nil, err
	}
	if _, x.seccomp, err = c.Rec.ExecParts(); err != nil {
		return nil, err
	}
	return x, nil
}

// execRoot is, without a mount namespace of its own, the root init
// chroot'ed into: the copy of its rootfs the runtime stacked on it. The
// exec'd process must enter it too, or it would run on the host's root.
// Decided from the state record, not from init's mount namespace now:
// init with CAP_SYS_ADMIN may have unshared one of its own, a copy of the
// host's mounts, and joining that would land on the host's /.
func (c *Container) execRoot() (*os.File, error) {
	hasCopy, err := hostroot.Has(c.dir)
	if err != nil {
		return nil, err
	}
	if !hasCopy {
		shared, err := libns.SharesOurs(c.Rec.Pid, libns.Mount)
		if err != nil {
			return nil, err
		}
		if shared {
			return nil, errors.New("exec: the container shares the runtime's mount namespace and no copy of its rootfs is recorded: its root cannot be proven")
		}
		return nil, nil
	}
	root, err := c.openHostRoot()
	if err != nil {
		return nil, err
	}
	if !alive(c.Rec.Pid, c.Rec.StartTime) {
		root.Close()
		return nil, errNotRunning
	}
	return root, nil
}

// finish closes what Exec held and, on an error before the process
// exec'd, kills it.
func (x *execution) finish(err error) {
	if err != nil && !x.started {
		x.kill()
	}
	if x.pidfd >= 0 {
		unix.Close(x.pidfd)
	}
	if x.proc != nil {
		x.proc.sync.Close()
	}
	for _, f := range []*os.File{x.root, x.console} {
		if f != nil {
			f.Close()
		}
	}
	if x.tty != nil {
		x.tty.Close()
	}
	for _, j := range x.joins {
		j.File.Close()
	}
}

// kill kills and reaps the process, once.
func (x *execution) kill() {
	if x.pid > 0 && !x.reaped {
		_ = unix.Kill(x.pid, unix.SIGKILL)
		_, _ = unix.Wait4(x.pid, nil, 0, nil)
		x.reaped = true
	}
}

// launch starts the process in the container's namespaces, checks it is
// in them and moves it into the container's cgroup.
func (x *execution) launch() error {
	var err error
	if x.log, err = newChildLog(); err != nil {
		return err
	}
	o := launchOptions{
		name: "exec process", verb: "nsexec", phase: "nsexec",
		log: x.log, console: x.console, preserved: preservedFiles(x.o.PreserveFds),
		root: x.root, joins: x.joins,
		// The process forks inside the nsenter constructor when it joins
		// a pid namespace; as subreaper rung becomes the parent of what it
		// forked. Detached with --pidfd-socket too: a process that exits
		// at once then stays rung's zombie, its pid not reused, until its
		// pidfd is open.
		subreaper: !x.o.Detach || x.o.PidfdSocket != "",
		spawned:   killpoint.ExecSpawned,
	}
	if x.o.PidfdSocket != "" {
		// The pidfd comes from the clone itself (CLONE_PIDFD): it is the
		// process' before it can exit and be reaped.
		o.attr = &syscall.SysProcAttr{PidFD: &x.pidfd}
	}
	if x.proc, err = launch(o); err != nil {
		return err
	}
	x.pid = x.proc.pid
	if x.proc.forked && x.pidfd >= 0 {
		// The clone was the constructor, gone now; the process is its
		// child, waiting for its config: it cannot have exited unless
		// killed, and then it is rung's zombie (subreaper).
		unix.Close(x.pidfd)
		if x.pidfd, err = unix.PidfdOpen(x.pid, 0); err != nil {
			x.pidfd = -1
			return fmt.Errorf("--pidfd-socket: pidfd_open %d: %w", x.pid, err)
		}
	}
	return x.configure()
}

// configure checks the process is in the namespaces, moves it into the
// container's cgroup and sends it its config.
func (x *execution) configure() error {
	// A rootless runtime may not read the non-dumpable process' /proc
	// entries: the process checks itself against joined instead.
	var joined map[string]libns.Identity
	var err error
	if os.Geteuid() == 0 {
		if err := libns.VerifyJoined(x.pid, x.joins); err != nil {
			return err
		}
	} else if joined, err = libns.JoinedIdentities(x.joins); err != nil {
		return err
	}
	phase.Mark("exec-joined")
	killpoint.Hit(killpoint.ExecJoined)
	for key, path := range x.cgroupPaths {
		if err := x.c.joinCgroup(key, path, x.pid); err != nil {
			return fmt.Errorf("join the container's cgroup %s: %w", path, err)
		}
	}
	phase.Mark("exec-cgroup")
	killpoint.Hit(killpoint.ExecCgroup)
	var seccompBPF *initproc.SeccompBPF
	if err := prepareSeccomp(&seccompBPF, x.c.root, x.seccomp); err != nil {
		return err
	}
	cfg := initproc.ExecConfig{
		Process: x.o.Process, Seccomp: x.seccomp, SeccompBPF: seccompBPF,
		ConsoleFd: x.proc.consoleFd, PreserveFds: x.proc.preserved, RootFd: x.proc.rootFd,
		SELinux: x.selinuxOn, Log: x.log.w != nil, Joined: joined,
	}
	if err := json.NewEncoder(x.proc.sync).Encode(cfg); err != nil {
		return fmt.Errorf("send process to exec: %w", err)
	}
	phase.Mark("exec-config-sent")
	killpoint.Hit(killpoint.ExecConfig)
	return nil
}

// handshake serves the process until it exec's (the close-on-exec socket
// reads end-of-file) or reports Failed.
func (x *execution) handshake() error {
	enc, dec := json.NewEncoder(x.proc.sync), json.NewDecoder(x.proc.sync)
	for {
		m, err := initproc.Receive(dec)
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("exec: %w", err)
		}
		switch m := m.(type) {
		case initproc.SeccompFdOffer:
			// The container's status now: running, or paused (--ignore-paused).
			c := x.c
			st := specs.State{Version: ociVersion, ID: c.Rec.ID, Status: specs.ContainerState(c.Status()), Pid: c.Rec.Pid, Bundle: c.Rec.Bundle, Annotations: c.Rec.Annotations}
			if err := relaySeccompFd(x.proc.sync, enc, x.seccomp, x.pid, st); err != nil {
				x.kill()
				x.log.wait()
				return err
			}
		case initproc.Failed:
			_, _ = unix.Wait4(x.pid, nil, 0, nil)
			x.reaped = true
			x.log.wait()
			return fmt.Errorf("unable to start container process: %s", m.Error)
		default:
			return fmt.Errorf("exec: %w", initproc.Unexpected(m))
		}
	}
	phase.Mark("exec-execd")
	killpoint.Hit(killpoint.ExecStarted)
	// The process closed its log just before its exec.
	x.log.wait()
	return nil
}

// namespacesToJoin opens every namespace of the container's init that is
// not the runtime's own.
func (c *Container) namespacesToJoin() ([]libns.Join, error) {
	var joins []libns.Join
	for _, k := range libns.AllKinds() {
		shared, err := libns.SharesOurs(c.Rec.Pid, k)
		if err != nil {
			return nil, err
		}
		if shared {
			continue
		}
		f, err := libns.OpenNamespace(libns.ContainerNSPath(c.Rec.Pid, k), k)
		if err != nil {
			return nil, err
		}
		joins = append(joins, libns.Join{Kind: k, File: f})
	}
	// The fds are only good if they are still init's: check it did not
	// exit (and its pid get reused) while they were opened.
	if !alive(c.Rec.Pid, c.Rec.StartTime) {
		for _, j := range joins {
			j.File.Close()
		}
		return nil, errNotRunning
	}
	return joins, nil
}

// waitForwarding waits for pid, a child of rung, forwarding signals.
func waitForwarding(pid int) (int, error) {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs)
	defer signal.Stop(sigs)
	go func() {
		for s := range sigs {
			if sig, ok := s.(syscall.Signal); ok && sig != unix.SIGCHLD && sig != unix.SIGURG && sig != unix.SIGWINCH && sig != unix.SIGPIPE {
				_ = unix.Kill(pid, sig)
			}
		}
	}()
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return -1, fmt.Errorf("wait for exec process: %w", err)
		}
		break
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}

// openHostRoot opens the root of a container in the runtime's mount
// namespace, init's root, and checks it is still the root of the copy of
// the rootfs init chroot'ed into: a container that chroot'ed elsewhere (it
// may hold CAP_SYS_CHROOT) does not take exec'd processes with it.
func (c *Container) openHostRoot() (*os.File, error) {
	hr, err := hostroot.Read(c.dir)
	if err != nil {
		return nil, fmt.Errorf("exec: the container's copy of its rootfs: %w", err)
	}
	root, err := os.OpenFile(fmt.Sprintf("/proc/%d/root", c.Rec.Pid), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open the container's root: %w", err)
	}
	ok, err := hr.IsRootOf(int(root.Fd()))
	if err == nil && !ok {
		err = fmt.Errorf("the container's root is no longer its rootfs %s", hr.Rootfs)
	}
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("exec: %w", err)
	}
	return root, nil
}
