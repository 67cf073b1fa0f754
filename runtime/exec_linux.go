package runtime

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rungrt/rung/initproc"
	"github.com/rungrt/rung/libns"
	"github.com/rungrt/rung/runtime/killpoint"
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
func (c *Container) Exec(o ExecOptions) (int, error) {
	switch c.Status() {
	case Stopped:
		return -1, errNotRunning
	case Paused:
		// Its cgroup is frozen: the new process would freeze on joining it.
		if !o.IgnorePaused {
			return -1, errors.New("cannot exec in a paused container (use --ignore-paused to override)")
		}
	}
	cgroupPaths, err := execCgroupPaths(c.Rec.Cgroup.dirs(), o.SubCgroups)
	if err != nil {
		return -1, err
	}
	if err := checkPreserved(o.PreserveFds); err != nil {
		return -1, err
	}
	selinuxOn, err := selinuxLabels(o.Process, "")
	if err != nil {
		return -1, err
	}
	joins, err := c.namespacesToJoin()
	if err != nil {
		return -1, err
	}
	defer func() {
		for _, j := range joins {
			j.File.Close()
		}
	}()
	// The process forks inside the nsenter constructor when it joins a pid
	// namespace; as subreaper rung becomes the parent of what it forked.
	// Detached with --pidfd-socket too: a process that exits at once then
	// stays rung's zombie, its pid not reused, until its pidfd is open.
	if !o.Detach || o.PidfdSocket != "" {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return -1, fmt.Errorf("become subreaper: %w", err)
		}
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	parent, child := os.NewFile(uintptr(fds[0]), "sync"), os.NewFile(uintptr(fds[1]), "sync-child")
	defer parent.Close()
	pidR, pidW, err := os.Pipe()
	if err != nil {
		child.Close()
		return -1, err
	}
	defer pidR.Close()
	exe, err := sealedExe(o.PreserveFds)
	if err != nil {
		child.Close()
		pidW.Close()
		return -1, err
	}
	defer exe.Close()

	var tty *ttyProxy
	if o.Process.Terminal && o.ConsoleSocket == "" && !o.Detach {
		if tty, err = newTTYProxy(); err != nil {
			return -1, err
		}
		defer tty.Close()
	}
	consoleFile, err := consoleFor(o.Process, o.ConsoleSocket, tty)
	if err != nil {
		return -1, err
	}
	extra := []*os.File{child, pidW} // fds 3 and 4
	execLog, err := newChildLog()
	if err != nil {
		return -1, err
	}
	if execLog.w != nil {
		extra = append(extra, execLog.w) // initproc.LogFd
	}
	consoleFd := 0
	if consoleFile != nil {
		defer consoleFile.Close()
		extra = append(extra, consoleFile)
		consoleFd = 3 + len(extra) - 1
	}
	var childPreserved []int
	for _, f := range preservedFiles(o.PreserveFds) {
		extra = append(extra, f)
		childPreserved = append(childPreserved, 3+len(extra)-1)
	}
	// Without a mount namespace of its own, init chroot'ed into the copy
	// of its rootfs the runtime stacked on it: the exec'd process must
	// too, or it would run on the host's root. Decided from the state
	// record, not from init's mount namespace now: init with
	// CAP_SYS_ADMIN may have unshared one of its own, a copy of the
	// host's mounts, and joining that would land on the host's /.
	rootFd := 0
	hasCopy, err := hasHostRoot(c.dir)
	if err != nil {
		return -1, err
	}
	if !hasCopy {
		shared, err := sharesOurMountNS(c.Rec.Pid)
		if err != nil {
			return -1, err
		}
		if shared {
			return -1, errors.New("exec: the container shares the runtime's mount namespace and no copy of its rootfs is recorded: its root cannot be proven")
		}
	}
	if hasCopy {
		root, err := c.openHostRoot()
		if err != nil {
			return -1, err
		}
		defer root.Close()
		if !alive(c.Rec.Pid, c.Rec.StartTime) {
			return -1, errNotRunning
		}
		extra = append(extra, root)
		rootFd = 3 + len(extra) - 1
	}
	childFds := make([]int, len(joins))
	for i, j := range joins {
		extra = append(extra, j.File)
		childFds[i] = 3 + len(extra) - 1
	}
	env, err := libns.EnterEnv(joins, childFds, 4, 0)
	if err != nil {
		return -1, err
	}
	cmd := &exec.Cmd{
		Path:       fmt.Sprintf("/proc/self/fd/%d", exe.Fd()),
		Args:       []string{"rung", "nsexec"},
		Env:        []string{env, "GODEBUG=containermaxprocs=0,updatemaxprocs=0"},
		Stdin:      os.Stdin,
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		ExtraFiles: extra,
	}
	// The pidfd comes from the clone itself (CLONE_PIDFD): it is the
	// process' before it can exit and be reaped.
	clonePidfd := -1
	if o.PidfdSocket != "" {
		cmd.SysProcAttr = &syscall.SysProcAttr{PidFD: &clonePidfd}
	}
	err = cmd.Start()
	child.Close()
	pidW.Close()
	execLog.started()
	if err != nil {
		return -1, fmt.Errorf("start exec process: %w", err)
	}
	pidfd := clonePidfd
	defer func() {
		if pidfd >= 0 {
			unix.Close(pidfd)
		}
	}()
	killpoint.Hit(killpoint.ExecSpawned)
	pid := cmd.Process.Pid
	forked := libns.NeedsFork(joins, 0)
	if forked {
		if err := cmd.Wait(); err != nil {
			return -1, fmt.Errorf("join the container's namespaces: %w", err)
		}
	}
	// Without a fork the line only says the constructor has joined: the
	// namespaces are verified after it, not while it may still be joining.
	line, rerr := bufio.NewReader(pidR).ReadString('\n')
	reported, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || reported <= 0 || (!forked && reported != pid) {
		if !forked {
			_ = unix.Kill(pid, unix.SIGKILL)
			_, _ = unix.Wait4(pid, nil, 0, nil)
		}
		return -1, fmt.Errorf("join the container's namespaces: no pid reported (%v)", rerr)
	}
	pid = reported
	kill := func() { _ = unix.Kill(pid, unix.SIGKILL); _, _ = unix.Wait4(pid, nil, 0, nil) }
	if forked && pidfd >= 0 {
		// The clone was the constructor, gone now; the process is its
		// child, waiting for its config: it cannot have exited unless
		// killed, and then it is rung's zombie (subreaper).
		unix.Close(pidfd)
		if pidfd, err = unix.PidfdOpen(pid, 0); err != nil {
			pidfd = -1
			kill()
			return -1, fmt.Errorf("--pidfd-socket: pidfd_open %d: %w", pid, err)
		}
	}
	// A rootless runtime may not read the non-dumpable process' /proc
	// entries: the process checks itself against joined instead.
	var joined map[string]libns.Identity
	if os.Geteuid() == 0 {
		if err := libns.VerifyJoined(pid, joins); err != nil {
			kill()
			return -1, err
		}
	} else if joined, err = libns.JoinedIdentities(joins); err != nil {
		kill()
		return -1, err
	}
	killpoint.Hit(killpoint.ExecJoined)
	for _, path := range cgroupPaths {
		if err := cgroups.WriteCgroupProc(path, pid); err != nil {
			kill()
			return -1, fmt.Errorf("join the container's cgroup %s: %w", path, err)
		}
	}
	killpoint.Hit(killpoint.ExecCgroup)
	var seccomp *specs.LinuxSeccomp
	if c.Rec.Config != nil && c.Rec.Config.Linux != nil {
		seccomp = c.Rec.Config.Linux.Seccomp
	}
	var seccompBPF *initproc.SeccompBPF
	if err := prepareSeccomp(&seccompBPF, c.root, seccomp); err != nil {
		kill()
		return -1, err
	}
	if err := json.NewEncoder(parent).Encode(initproc.ExecConfig{Process: o.Process, Seccomp: seccomp, SeccompBPF: seccompBPF, ConsoleFd: consoleFd, PreserveFds: childPreserved, RootFd: rootFd, SELinux: selinuxOn, Log: execLog.w != nil, Joined: joined}); err != nil {
		kill()
		return -1, fmt.Errorf("send process to exec: %w", err)
	}
	killpoint.Hit(killpoint.ExecConfig)
	var reply initproc.Reply
	dec := json.NewDecoder(parent)
	err = dec.Decode(&reply)
	for err == nil && reply.SeccompFd {
		// The container's status now: running, or paused (--ignore-paused).
		st := specs.State{Version: ociVersion, ID: c.Rec.ID, Status: specs.ContainerState(c.Status()), Pid: c.Rec.Pid, Bundle: c.Rec.Bundle, Annotations: c.Rec.Annotations}
		if rerr := relaySeccompFd(parent, json.NewEncoder(parent), seccomp, pid, st); rerr != nil {
			kill()
			execLog.wait()
			return -1, rerr
		}
		reply = initproc.Reply{}
		err = dec.Decode(&reply)
	}
	if err == nil && reply.Error != "" {
		_, _ = unix.Wait4(pid, nil, 0, nil)
		execLog.wait()
		return -1, fmt.Errorf("unable to start container process: %s", reply.Error)
	} else if err != nil && !errors.Is(err, io.EOF) {
		kill()
		return -1, fmt.Errorf("exec: %w", err)
	}
	killpoint.Hit(killpoint.ExecStarted)
	// The process closed its log just before its exec.
	execLog.wait()
	if o.PidFile != "" {
		if err := writeFileAtomic(o.PidFile, []byte(strconv.Itoa(pid)), 0o644); err != nil {
			return -1, fmt.Errorf("write pid file: %w", err)
		}
	}
	if o.PidfdSocket != "" {
		if err := sendPidfdFd(o.PidfdSocket, pidfd); err != nil {
			kill()
			return -1, err
		}
	}
	if o.Detach {
		return 0, nil
	}
	if tty == nil {
		return waitForwarding(pid)
	}
	return (&CreatedContainer{Container: &Container{Rec: &Record{Pid: pid}}, tty: tty}).Wait()
}

// namespacesToJoin opens every namespace of the container's init that is
// not the runtime's own.
func (c *Container) namespacesToJoin() ([]libns.Join, error) {
	var joins []libns.Join
	for _, k := range libns.AllKinds() {
		theirs, err := libns.ContainerIdentity(c.Rec.Pid, k)
		if err != nil {
			return nil, err
		}
		ours, err := libns.IdentityOf(0, k)
		if err != nil {
			return nil, err
		}
		if theirs == ours {
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

func sharesOurMountNS(pid int) (bool, error) {
	theirs, err := libns.ContainerIdentity(pid, libns.Mount)
	if err != nil {
		return false, err
	}
	ours, err := libns.IdentityOf(0, libns.Mount)
	if err != nil {
		return false, err
	}
	return theirs == ours, nil
}

// openHostRoot opens the root of a container in the runtime's mount
// namespace, init's root, and checks it is still the root of the copy of
// the rootfs init chroot'ed into: a container that chroot'ed elsewhere (it
// may hold CAP_SYS_CHROOT) does not take exec'd processes with it.
func (c *Container) openHostRoot() (*os.File, error) {
	hr, err := readHostRoot(c.dir)
	if err != nil {
		return nil, fmt.Errorf("exec: the container's copy of its rootfs: %w", err)
	}
	root, err := os.OpenFile(fmt.Sprintf("/proc/%d/root", c.Rec.Pid), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open the container's root: %w", err)
	}
	ok, err := hr.isRootOf(int(root.Fd()))
	if err == nil && !ok {
		err = fmt.Errorf("the container's root is no longer its rootfs %s", hr.Rootfs)
	}
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("exec: %w", err)
	}
	return root, nil
}
