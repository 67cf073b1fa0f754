package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/rungrt/rung/initproc"
	"github.com/rungrt/rung/internal/phase"
	"github.com/rungrt/rung/libns"
	"github.com/rungrt/rung/runtime/killpoint"
	"github.com/rungrt/rung/spec"
)

// CreateOptions are the inputs of `rung create` and `rung run`.
type CreateOptions struct {
	Root    string
	ID      string
	Bundle  string
	PidFile string
	NoPivot bool
	// NoNewKeyring keeps the caller's session keyring in the container.
	NoNewKeyring bool
	// ConsoleSocket is where the pty master goes when process.terminal.
	ConsoleSocket string
	// PidfdSocket, when set, receives a pidfd of init.
	PidfdSocket string
	// PreserveFds: rung's fds 3 .. 3+N-1 go on to the container process.
	PreserveFds int
	// RelayTerminal: for a foreground run with process.terminal and no
	// console socket, rung takes the pty master and relays it itself.
	RelayTerminal bool
	// MinRung, when set, refuses a config whose isolation reads below it.
	MinRung *libns.Rung
	// SystemdCgroup: systemd manages the container's cgroup as a
	// transient unit (--systemd-cgroup), named by a "slice:prefix:name"
	// cgroupsPath.
	SystemdCgroup bool
	// Rootless: the caller may lack permission on the cgroup tree (the
	// global --rootless). As in runc, a cgroup that cannot be made is
	// then skipped when the config asks for no limits and names no
	// cgroupsPath; any limit still fails the create.
	Rootless bool
}

// CreatedContainer is a container whose init is waiting for start, held
// by the process that created it (init's parent or subreaper), which can
// wait for the container to exit.
type CreatedContainer struct {
	*Container
	tty *ttyProxy // set when rung relays the terminal itself
}

// Create sets up a container up to the point where only the user process'
// exec is left, and records it. On any error it leaves nothing: no
// process, no state directory.
func Create(o CreateOptions) (_ *CreatedContainer, err error) {
	if err := ValidateID(o.ID); err != nil {
		return nil, err
	}
	if err := checkPreserved(o.PreserveFds); err != nil {
		return nil, err
	}
	bundle, err := filepath.Abs(o.Bundle)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(bundle); err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("bundle %s is not a directory", bundle)
	}
	s, err := spec.Load(bundle)
	if err != nil {
		return nil, err
	}
	phase.Mark("config-loaded")
	plan, err := spec.Validate(s, bundle)
	if err != nil {
		return nil, err
	}
	for _, w := range plan.Warnings {
		logrus.Warn(w)
	}
	if os.Geteuid() != 0 {
		if err := checkRootless(s, plan); err != nil {
			return nil, err
		}
	}
	var mountLabel string
	if s.Linux != nil {
		mountLabel = s.Linux.MountLabel
	}
	selinuxOn, err := selinuxLabels(s.Process, mountLabel)
	if err != nil {
		return nil, err
	}
	joins, err := openJoins(plan)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, j := range joins {
			j.File.Close()
		}
	}()
	// A namespace joined from the host does not isolate: the ladder reads
	// only what really sets the container apart.
	isolated, err := isolating(plan, joins)
	if err != nil {
		return nil, err
	}
	reading := libns.Assess(isolated)
	if o.MinRung != nil {
		if err := libns.RequireRung(isolated, *o.MinRung); err != nil {
			return nil, err
		}
	}
	procMount := hostProcMount(s, isolated)
	hostProc := procMount >= 0
	if hostProc {
		logrus.Warn(hostProcWarning(s, procMount, o.MinRung))
	}

	if err := checkRoot(o.Root); err != nil {
		return nil, err
	}
	phase.Mark("config-validated")
	if err := os.MkdirAll(o.Root, 0o700); err != nil {
		return nil, fmt.Errorf("create state root: %w", err)
	}
	dir := stateDir(o.Root, o.ID)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("container with id exists: %s", o.ID)
		}
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	lock, err := lockDir(dir, true)
	if err != nil {
		os.Remove(dir)
		return nil, err
	}
	defer lock.Close()
	killpoint.Hit(killpoint.CreateDir)
	// Two fds in reserve: a create that failed for want of fds
	// (RLIMIT_NOFILE) must still be able to remove what it made.
	spare := reserveFds(2)
	defer func() { closeFds(spare) }()
	pid := 0
	var cgRef *CgroupRef
	hostRootTried := false
	defer func() {
		if err != nil {
			closeFds(spare)
			spare = nil
			if pid > 0 {
				// rung is init's parent or subreaper: kill and reap it,
				// so that it has left the cgroup before that is removed.
				_ = unix.Kill(pid, unix.SIGKILL)
				_, _ = unix.Wait4(pid, nil, 0, nil)
			}
			if cerr := removeCgroup(cgRef); cerr != nil {
				// Keep the state directory: it records the cgroup
				// (cgroup.json), and `delete` retries.
				err = fmt.Errorf("%w (and removing the cgroup: %v)", err, cerr)
				return
			}
			if hostRootTried {
				if uerr := unmountHostMounts(dir); uerr != nil {
					// Keep the record: the state directory stays as a
					// leftover, and `delete` retries.
					err = fmt.Errorf("%w (and cleaning up: %v)", err, uerr)
					return
				}
			}
			// Its fd too may be needed: nothing recorded is left, and
			// neither delete nor a create can take the directory now.
			lock.Close()
			os.RemoveAll(dir)
		}
	}()
	// Decided by identity, not by the config: a mount namespace joined by
	// a path that names the runtime's own is no namespace of the
	// container's, and init must not make the host's "/" a slave and
	// pivot_root in it.
	var hostRootMnt uint64
	if !isolated.Has(libns.Mount) {
		hostRootTried = true
		if hostRootMnt, err = attachHostRoot(dir, spec.RootfsPath(s, bundle)); err != nil {
			return nil, err
		}
		killpoint.Hit(killpoint.CreateHostRoot)
	}

	var unit *SystemdUnit
	if o.SystemdCgroup {
		if unit, err = ParseSystemdCgroupsPath(s.Linux.CgroupsPath, o.ID); err != nil {
			return nil, err
		}
	}
	cgConf, cgWarnings, err := cgroupConfig(s, o.ID, unit)
	if err != nil {
		return nil, err
	}
	cgConf.Rootless = o.Rootless
	for _, w := range cgWarnings {
		logrus.Warn(w)
	}
	cg, ref, err := openCgroup(dir, cgConf, unit)
	if err != nil {
		return nil, err
	}
	cgRef = ref
	killpoint.Hit(killpoint.CreateCgroupRecorded)
	var tty *ttyProxy
	if s.Process.Terminal && o.ConsoleSocket == "" && o.RelayTerminal {
		if tty, err = newTTYProxy(); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				tty.Close()
			}
		}()
	}
	consoleFile, err := consoleFor(s.Process, o.ConsoleSocket, tty)
	if err != nil {
		return nil, err
	}
	if consoleFile != nil {
		defer consoleFile.Close()
	}
	cgDir, err := precreateCgroup(cg, cgConf)
	if err != nil {
		return nil, err
	}
	if cgDir != nil {
		defer cgDir.Close()
	}
	phase.Mark("cgroup-prepared")
	preserved := preservedFiles(o.PreserveFds)
	initLog, err := newChildLog()
	if err != nil {
		return nil, err
	}
	pid, sync, consoleFd, childPreserved, err := startInit(s, plan, joins, consoleFile, preserved, initLog.w, bundle, dir, cgDir)
	initLog.started()
	if err != nil {
		return nil, err
	}
	defer sync.Close()
	killpoint.Hit(killpoint.CreateInit)
	// init waits for its config: put it in its cgroup before it can fork.
	var kernelTCP *int64
	if r := s.Linux.Resources; r != nil && r.Memory != nil {
		kernelTCP = r.Memory.KernelTCP
	}
	joinPid := pid
	if cgDir != nil {
		joinPid = -1 // cloned into it
	}
	if err := applyCgroup(cg, cgConf, joinPid, kernelTCP); err != nil {
		return nil, err
	}
	// Rootless: the hierarchies the caller could not use are gone from
	// the manager; the record names only the cgroups init is really in.
	cgRef.Paths = cg.GetPaths()
	if o.Rootless {
		// The named hierarchies (name=systemd, the hybrid cgroup2) are
		// joined best effort by the library, even when mkdir failed.
		for k, p := range cgRef.Paths {
			if _, err := os.Stat(p); err != nil {
				delete(cgRef.Paths, k)
			}
		}
	}
	phase.Mark("cgroup-applied")
	killpoint.Hit(killpoint.Cgroup)
	// Hooks during create see "created", as runc and crun pass it and the
	// runtime-tools hook tests expect.
	hookState := &specs.State{Version: ociVersion, ID: o.ID, Status: specs.StateCreated, Pid: pid, Bundle: bundle, Annotations: s.Annotations}
	if err := sendConfig(sync, s, plan, isolated, o, bundle, hookState, consoleFd, childPreserved, hostRootMnt, selinuxOn, initLog.w != nil); err != nil {
		return nil, err
	}
	phase.Mark("config-sent")
	killpoint.Hit(killpoint.CreateConfig)
	dec, enc := json.NewDecoder(sync), json.NewEncoder(sync)
	var reply initproc.Reply
	for {
		reply = initproc.Reply{}
		if err := dec.Decode(&reply); err != nil {
			initLog.wait() // init is gone
			return nil, fmt.Errorf("unable to start container process: init exited before it was ready")
		}
		if reply.Error != "" {
			initLog.wait() // init exits after its error
			return nil, fmt.Errorf("unable to start container process: %s", reply.Error)
		}
		if reply.BindSources {
			if err := sendBindSources(sync, pid, s, bundle); err != nil {
				return nil, err
			}
			continue
		}
		if reply.SeccompFd {
			st := *hookState
			st.Status = specs.StateCreating
			if err := relaySeccompFd(sync, enc, s.Linux.Seccomp, pid, st); err != nil {
				return nil, err
			}
			continue
		}
		if !reply.RuntimeHooks {
			break
		}
		if err := runRuntimeHooks(s.Hooks, hookState); err != nil {
			return nil, err
		}
		if err := enc.Encode(initproc.Commit{Commit: true}); err != nil {
			return nil, fmt.Errorf("resume init: %w", err)
		}
	}
	phase.Mark("init-ready")
	killpoint.Hit(killpoint.CreateReady)
	for _, w := range reply.Warnings {
		logrus.Warn(w)
	}
	for _, n := range reply.Notes {
		logrus.Debug(n)
	}
	// Proof, not promise: each namespace the plan created must differ from
	// the runtime's own before the container is recorded.
	if err := libns.VerifyNew(pid, plan.Create); err != nil {
		return nil, err
	}
	if err := libns.VerifyJoined(pid, joins); err != nil {
		return nil, err
	}
	phase.Mark("namespaces-verified")
	st, err := readProcStat(pid)
	if err != nil {
		return nil, fmt.Errorf("read init process: %w", err)
	}
	rec := &Record{
		ID:          o.ID,
		Pid:         pid,
		StartTime:   st.startTime,
		Bundle:      bundle,
		Rootfs:      spec.RootfsPath(s, bundle),
		Created:     time.Now().UTC(),
		Annotations: s.Annotations,
		Isolation: Isolation{
			Rung:       reading.Rung.String(),
			Namespaces: isolated.Names(),
			Extras:     reading.Extras.Names(),
			Joined:     plan.Joined().Names(),
			Verified:   true,
			HostProc:   hostProc,
		},
		PidNS:  plan.Create.Has(libns.PID),
		Cgroup: cgRef,
		Config: s,
	}
	if err := writeRecord(dir, rec); err != nil {
		return nil, err
	}
	phase.Mark("state-written")
	killpoint.Hit(killpoint.CreateRecord)
	if o.PidFile != "" {
		if err := writeFileAtomic(o.PidFile, []byte(strconv.Itoa(pid)), 0o644); err != nil {
			return nil, fmt.Errorf("write pid file: %w", err)
		}
	}
	if o.PidfdSocket != "" {
		if err := sendPidfd(o.PidfdSocket, pid); err != nil {
			return nil, err
		}
	}
	if err := enc.Encode(initproc.Commit{Commit: true}); err != nil {
		return nil, fmt.Errorf("release init: %w", err)
	}
	phase.Mark("init-released")
	killpoint.Hit(killpoint.CreateDone)
	// init closes its log before it waits for start.
	initLog.wait()
	return &CreatedContainer{Container: &Container{root: o.Root, dir: dir, Rec: rec}, tty: tty}, nil
}

// startInit re-execs rung as `rung init` inside the planned namespaces
// and sends it its config. It returns the runtime's end of the sync socket.
// startInit re-execs rung as `rung init` inside the planned namespaces.
// New namespaces are created by clone flags (Path A); when the plan joins
// namespaces, the nsenter constructor enters them before the Go runtime
// starts (Path B), and creates the new ones itself after a joined user
// namespace, or a pid namespace that needs a fork. It returns init's pid
// and the runtime's end of the sync socket; init then waits for its config.
func startInit(s *specs.Spec, plan spec.Plan, joins []libns.Join, console *os.File, preserved []*os.File, logW *os.File, bundle, dir string, cgroupDir *os.File) (pid int, sync *os.File, consoleFd int, childPreserved []int, err error) {
	fifo := filepath.Join(dir, fifoName)
	// 0622: init writes to it after switching to the container's user.
	if err := unix.Mkfifo(fifo, 0o622); err != nil {
		return 0, nil, 0, nil, fmt.Errorf("create exec fifo: %w", err)
	}
	if err := os.Chmod(fifo, 0o622); err != nil {
		return 0, nil, 0, nil, err
	}
	fifoFd, err := os.OpenFile(fifo, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, nil, 0, nil, fmt.Errorf("open exec fifo: %w", err)
	}
	defer fifoFd.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, nil, 0, nil, fmt.Errorf("create sync socket: %w", err)
	}
	parent := os.NewFile(uintptr(fds[0]), "sync-parent")
	child := os.NewFile(uintptr(fds[1]), "sync-child")
	defer child.Close()
	pidR, pidW, err := os.Pipe()
	if err != nil {
		parent.Close()
		return 0, nil, 0, nil, err
	}
	defer pidR.Close()
	defer pidW.Close()
	exe, err := sealedExe(len(preserved))
	if err != nil {
		parent.Close()
		return 0, nil, 0, nil, err
	}
	defer exe.Close()

	// The cgroup namespace is left out: init unshares it once the runtime
	// has moved it into the container's cgroup, so that cgroup, not the
	// caller's, is the namespace's root.
	newNS := plan.Create.Minus(libns.NewSet(libns.Cgroup))
	joined := plan.Joined()
	// After a joined user namespace the new ones must be created inside it,
	// and joining pid or time needs the constructor's fork anyway. So does
	// a new time namespace: its offsets are written after unshare and
	// before any process is in it, and only a child enters it (Linux
	// before 6.x does not move an exec'ing process into it: its threads
	// then fail to start with EINVAL, as Debian 12's 6.1 shows).
	inConstructor := joined.Has(libns.User) || joined.Has(libns.PID) || joined.Has(libns.Time) || newNS.Has(libns.Time)
	attr := &syscall.SysProcAttr{}
	if cgroupDir != nil {
		// CLONE_INTO_CGROUP: the constructor's fork, when there is one,
		// inherits the cgroup.
		attr.UseCgroupFD, attr.CgroupFD = true, int(cgroupDir.Fd())
	}
	var unshare libns.Set
	switch {
	case !inConstructor:
		attr.Cloneflags = newNS.CloneFlags()
	case newNS.Has(libns.User) && len(joins) == 0:
		// A new user namespace still comes from clone, so that the
		// runtime writes its id maps; the constructor, root in it,
		// creates the rest there.
		attr.Cloneflags = libns.NewSet(libns.User).CloneFlags()
		unshare = newNS.Minus(libns.NewSet(libns.User))
	default:
		unshare = newNS
	}
	mapTool := plan.Create.Has(libns.User) && os.Geteuid() != 0 && !ownIDsOnly(s)
	if mapTool && inConstructor {
		parent.Close()
		return 0, nil, 0, nil, errors.New("rootless: a new user namespace with subordinate id mappings beside joined namespaces or a new time namespace is not supported")
	}
	// With mapTool the namespace is mapped after the clone, by
	// newuidmap/newgidmap (writeMappings).
	if plan.Create.Has(libns.User) && !mapTool {
		attr.UidMappings = idMaps(s.Linux.UIDMappings)
		attr.GidMappings = idMaps(s.Linux.GIDMappings)
		attr.GidMappingsEnableSetgroups = true
		// The child keeps the host's uid 0 across clone, which the new
		// namespace does not map; exec would then drop every capability.
		// Becoming the namespace's root first keeps init privileged there.
		attr.Credential = &syscall.Credential{Uid: 0, Gid: 0}
		if os.Geteuid() != 0 {
			// An unprivileged caller may write only its own single id,
			// and a gid_map only once setgroups is denied (user_namespaces(7)):
			// otherwise dropping a group by setgroups would lift a
			// negative permission ("rwx---rwx" files) on the host.
			attr.GidMappingsEnableSetgroups = false
			attr.Credential.NoSetGroups = true
		}
	}
	extra := []*os.File{child, fifoFd} // fds 3 and 4
	if logW != nil {
		extra = append(extra, logW) // initproc.LogFd
	}
	env := []string{
		// Go 1.25+ would otherwise open the host's cgroup cpu files at
		// start-up and keep them open in init, inside the container.
		"GODEBUG=containermaxprocs=0,updatemaxprocs=0",
	}
	if mapTool {
		env = append(env, initproc.MapWaitEnv+"=1")
	}
	if len(joins) == 0 {
		// init opens the profile by path: only where that resolves in
		// the host's tree, never inside a joined mount namespace.
		env = append(env, phase.ChildEnv()...)
	}
	if console != nil {
		extra = append(extra, console)
		consoleFd = 3 + len(extra) - 1
	}
	for _, f := range preserved {
		extra = append(extra, f)
		childPreserved = append(childPreserved, 3+len(extra)-1)
	}
	forks := libns.NeedsFork(joins, unshare)
	pidFd := -1
	if forks {
		extra = append(extra, pidW) // where the constructor reports init's pid
		pidFd = 3 + len(extra) - 1
	}
	if len(joins) > 0 || !unshare.IsEmpty() {
		childFds := make([]int, len(joins))
		for i, j := range joins {
			extra = append(extra, j.File)
			childFds[i] = 3 + len(extra) - 1
		}
		e, err := libns.EnterEnv(joins, childFds, pidFd, unshare)
		if err != nil {
			parent.Close()
			return 0, nil, 0, nil, err
		}
		if unshare.Has(libns.Time) {
			offsets, err := libns.TimeOffsets(s.Linux.TimeOffsets)
			if err != nil {
				parent.Close()
				return 0, nil, 0, nil, err
			}
			env = append(env, libns.TimeOffsetsEnv+"="+offsets)
		}
		env = append(env, e)
	}
	if forks {
		// init is the constructor's child: as subreaper rung becomes its
		// parent, so a foreground run can wait for it.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			parent.Close()
			return 0, nil, 0, nil, fmt.Errorf("become subreaper: %w", err)
		}
	}
	cmd := &exec.Cmd{
		Path:        fmt.Sprintf("/proc/self/fd/%d", exe.Fd()),
		Args:        []string{"rung", "init"},
		Env:         env,
		Dir:         bundle,
		Stdin:       os.Stdin,
		Stdout:      os.Stdout,
		Stderr:      os.Stderr,
		ExtraFiles:  extra,
		SysProcAttr: attr,
	}
	// The clone happens on this thread; keep it from being reused mid-way.
	goruntime.LockOSThread()
	phase.Mark("init-spawn")
	err = cmd.Start()
	phase.Mark("init-execd")
	goruntime.UnlockOSThread()
	pidW.Close()
	if err != nil {
		parent.Close()
		return 0, nil, 0, nil, fmt.Errorf("start container init: %w", err)
	}
	if mapTool {
		if err := writeMappings(cmd.Process.Pid, s); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			parent.Close()
			return 0, nil, 0, nil, err
		}
		if _, err := parent.Write([]byte{'\n'}); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			parent.Close()
			return 0, nil, 0, nil, fmt.Errorf("resume init after the mappings: %w", err)
		}
	}
	if !forks {
		return cmd.Process.Pid, parent, consoleFd, childPreserved, nil
	}
	if err := cmd.Wait(); err != nil {
		parent.Close()
		return 0, nil, 0, nil, fmt.Errorf("start container init: joining namespaces failed: %w", err)
	}
	if _, err := fmt.Fscan(pidR, &pid); err != nil || pid <= 0 {
		parent.Close()
		return 0, nil, 0, nil, errors.New("start container init: no pid reported after joining namespaces")
	}
	return pid, parent, consoleFd, childPreserved, nil
}

func reserveFds(n int) []int {
	var fds []int
	for range n {
		if fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
			fds = append(fds, fd)
		}
	}
	return fds
}

func closeFds(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// checkPreserved refuses --preserve-fds N unless the caller really passed
// every fd 3 .. 3+N-1: one it left closed may be a file rung or the Go
// runtime opened since (a host cgroup file, the state directory), and
// would give the container a way out to the host.
func checkPreserved(n int) error {
	for fd := 3; fd < 3+n; fd++ {
		if !libns.Inherited(fd) {
			return fmt.Errorf("--preserve-fds %d: fd %d was not passed to rung (it was closed when rung started)", n, fd)
		}
	}
	return nil
}

// preservedFiles are rung's own fds 3 .. 3+n-1, which the engine passed
// for the container process (--preserve-fds); checkPreserved has checked
// each was open when rung started.
func preservedFiles(n int) []*os.File {
	var out []*os.File
	for i := 0; i < n; i++ {
		out = append(out, os.NewFile(uintptr(3+i), fmt.Sprintf("preserved-%d", 3+i)))
	}
	return out
}

// consoleFor is the console socket init gets: the engine's, or rung's own
// relay for a foreground run; a terminal without either is refused, as
// is a console socket without a terminal.
func consoleFor(p *specs.Process, socket string, proxy *ttyProxy) (*os.File, error) {
	if !p.Terminal {
		if socket != "" {
			return nil, errors.New("--console-socket given but process.terminal is false")
		}
		return nil, nil
	}
	if proxy != nil {
		return proxy.Send, nil
	}
	if socket == "" {
		return nil, errors.New("process.terminal: cannot allocate a tty if rung will detach without a console socket")
	}
	return dialConsoleSocket(socket)
}

// openJoins opens and checks every namespace the plan joins.
func openJoins(plan spec.Plan) ([]libns.Join, error) {
	var joins []libns.Join
	for _, j := range plan.Join {
		f, err := libns.OpenNamespace(j.Path, j.Kind)
		if err != nil {
			for _, o := range joins {
				o.File.Close()
			}
			return nil, fmt.Errorf("linux.namespaces[%d].path: %w", j.Index, err)
		}
		joins = append(joins, libns.Join{Kind: j.Kind, File: f})
	}
	return joins, nil
}

// isolating is the set of namespaces that really set the container apart:
// the new ones and the joined ones that are not the runtime's own.
func isolating(plan spec.Plan, joins []libns.Join) (libns.Set, error) {
	set := plan.Create
	for _, j := range joins {
		var st unix.Stat_t
		if err := unix.Fstat(int(j.File.Fd()), &st); err != nil {
			return 0, err
		}
		ours, err := libns.IdentityOf(0, j.Kind)
		if err != nil {
			return 0, err
		}
		if ours != (libns.Identity{Dev: st.Dev, Ino: st.Ino}) {
			set = set.Add(j.Kind)
		}
	}
	return set, nil
}

func sendConfig(sync *os.File, s *specs.Spec, plan spec.Plan, isolated libns.Set, o CreateOptions, bundle string, hookState *specs.State, consoleFd int, preserved []int, hostRootMnt uint64, selinuxOn, log bool) error {
	cfg := initproc.Config{
		ConsoleFd:   consoleFd,
		PreserveFds: preserved,
		HookState:   hookState,
		ID:          o.ID, Spec: s, Bundle: bundle, Rootfs: spec.RootfsPath(s, bundle),
		NoPivot: o.NoPivot, NoNewKeyring: o.NoNewKeyring, Namespaces: plan.Create.Names(),
		// Only the joined namespaces that set the container apart: one
		// that is the runtime's own is the host's to init.
		Joined:        isolated.Minus(plan.Create).Names(),
		HostRootMount: hostRootMnt,
		SELinux:       selinuxOn,
		Log:           log,
		// With a user namespace, init's root may not reach a source that
		// host root can: the runtime opens them for it.
		BindSources: plan.Create.Has(libns.User) && hasBindMount(s, bundle),
	}
	if err := prepareSeccomp(&cfg.SeccompBPF, o.Root, s.Linux.Seccomp); err != nil {
		return err
	}
	if err := json.NewEncoder(sync).Encode(&cfg); err != nil {
		return fmt.Errorf("send config to init: %w", err)
	}
	return nil
}

// runRuntimeHooks runs prestart (deprecated, still honoured) and then
// createRuntime hooks, in the runtime's namespaces.
func runRuntimeHooks(h *specs.Hooks, st *specs.State) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := initproc.RunHooks("prestart", h.Prestart, data); err != nil { //nolint:staticcheck // deprecated, still honoured
		return err
	}
	return initproc.RunHooks("createRuntime", h.CreateRuntime, data)
}

func idMaps(m []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(m))
	for i, e := range m {
		out[i] = syscall.SysProcIDMap{ContainerID: int(e.ContainerID), HostID: int(e.HostID), Size: int(e.Size)}
	}
	return out
}

func hasBindMount(s *specs.Spec, bundle string) bool {
	idx, _ := initproc.BindSourcePaths(s, bundle)
	return len(idx) > 0
}

// sendBindSources answers init's request: the bind sources, opened in its
// mount namespace. On failure init gets a message without fds and gives
// up; the error here is the one reported.
func sendBindSources(sync *os.File, pid int, s *specs.Spec, bundle string) error {
	idx, paths := initproc.BindSourcePaths(s, bundle)
	files, err := openInMountNS(pid, paths)
	if err != nil {
		_ = unix.Sendmsg(int(sync.Fd()), []byte{'E'}, nil, nil, 0)
		var pe *os.PathError
		if errors.As(err, &pe) {
			for k, p := range paths {
				if pe.Path == p {
					return fmt.Errorf("unable to start container process: mounts[%d] (bind on %s): %w", idx[k], s.Mounts[idx[k]].Destination, err)
				}
			}
		}
		return fmt.Errorf("unable to start container process: bind sources: %w", err)
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	if err := sendFds(sync, files); err != nil {
		return fmt.Errorf("send bind sources to init: %w", err)
	}
	return nil
}
