package initproc

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rungrt/rung/hooks"
	"github.com/rungrt/rung/internal/phase"
	"github.com/rungrt/rung/libns"
)

func init() {
	// Credentials, capabilities and no_new_privs are per thread in Linux;
	// init sets them on the main thread and execs from it, so the main
	// goroutine must never move. Locking here, before main, pins it.
	if len(os.Args) > 1 && (os.Args[1] == "init" || os.Args[1] == "nsexec") {
		runtime.GOMAXPROCS(1)
		runtime.LockOSThread()
	}
}

// Main is `rung init`. It never returns: it execs the container process or
// exits non-zero. Errors before readiness go to the runtime over the sync
// socket; errors after it (the exec itself) go to the container's stderr.
func Main() {
	if os.Getenv(MapWaitEnv) != "" {
		awaitMapping()
	}
	// CVE-2016-9962: while init holds runtime fds, no container process
	// may ptrace it or read /proc/1/fd. exec of the user process resets it.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		os.Exit(1)
	}
	sync := os.NewFile(SyncFd, "sync")
	dec := json.NewDecoder(sync)
	enc := json.NewEncoder(sync)
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		os.Exit(1) // the runtime went away before sending a config
	}
	phase.Mark("config-received")
	if cfg.AwaitCgroup {
		if _, err := Expect[CgroupJoined](dec); err != nil {
			os.Exit(1) // the runtime failed to attach it, or died
		}
		phase.Mark("cgroup-joined")
	}
	if cfg.Log {
		openLog(LogFd)
	}
	seccompFdSink = func(fd int) error { return syncSeccompFd(enc, dec, fd) }
	debugf("init: config received for container %s, namespaces %v, joined %v", cfg.ID, cfg.Namespaces, cfg.Joined)
	exe, err := func() (*execution, error) {
		if cfg.BindSources {
			if err := receiveBindSources(&cfg, enc, SyncFd); err != nil {
				return nil, err
			}
		}
		return setup(&cfg, func() error { return runtimeHooks(&cfg, enc, dec) })
	}()
	if err != nil {
		_ = Send(enc, Failed{Error: err.Error()})
		os.Exit(1)
	}
	phase.Mark("ready")
	if err := Send(enc, Ready{Warnings: exe.warnings, Notes: exe.notes}); err != nil {
		os.Exit(1)
	}
	if _, err := Expect[Release](dec); err != nil {
		os.Exit(1) // the runtime died or gave up: run nothing
	}
	phase.Mark("released")
	debugf("init: container recorded; closing the log pipe and waiting for start on exec.fifo")
	closeLog()
	sync.Close()
	if err := exe.waitForStart(cfg.Park); err != nil {
		fmt.Fprintf(os.Stderr, "rung init: %v\n", err)
		os.Exit(1)
	}
	phase.Mark("started")
	if h := cfg.Spec.Hooks; h != nil && len(h.StartContainer) > 0 {
		exe.startHooks, exe.hookState = h.StartContainer, cfg.hookState(specs.StateCreated)
	}
	err = exe.exec()
	fmt.Fprintf(os.Stderr, "rung init: %v\n", err)
	if errors.As(err, new(hookError)) {
		os.Exit(1)
	}
	os.Exit(127)
}

// hookError is a failed startContainer hook: init exits 1 for it, as
// for any other failure before the exec, and 127 when the exec fails.
type hookError struct{ error }

func (e hookError) Unwrap() error { return e.error }

// execution is the prepared user process.
type execution struct {
	path    string
	args    []string
	env     []string
	procfs  *os.File            // private procfs instance, or nil
	seccomp *seccompProgram     // loaded just before exec, when set
	rlimits []specs.POSIXRlimit // set just before exec: RLIMIT_AS and co. could starve init itself
	// preserved are the fds (--preserve-fds) to hand on as 3, 4, ...
	preserved []int
	// seccompLoaded: the filter went in early (without no_new_privs);
	// fds were sealed then, and the filter may refuse close_range now.
	seccompLoaded bool
	// startHooks run in the container just before the exec, under its
	// seccomp filter, with hookState on stdin.
	startHooks []specs.Hook
	hookState  []byte
	warnings   []string
	notes      []string
}

// runtimeHooks is called once the namespaces and mounts exist and before
// pivot_root: the runtime runs prestart and createRuntime hooks, then init
// runs createContainer hooks, in the container's namespaces with the
// runtime's paths still visible.
func runtimeHooks(cfg *Config, enc *json.Encoder, dec *json.Decoder) error {
	h := cfg.Spec.Hooks
	if h == nil {
		return nil
	}
	if len(h.Prestart) > 0 || len(h.CreateRuntime) > 0 { //nolint:staticcheck // prestart is deprecated, still honoured
		if err := Send(enc, RuntimeHooksRequest{}); err != nil {
			return err
		}
		if _, err := Expect[HooksDone](dec); err != nil {
			return errors.New("runtime hooks failed")
		}
	}
	return hooks.Run("createContainer", h.CreateContainer, cfg.hookState(specs.StateCreated))
}

func (cfg *Config) hookState(status specs.ContainerState) []byte {
	st := *cfg.HookState
	st.Status = status
	data, _ := json.Marshal(st)
	return data
}

func parseKinds(names []string) (libns.Set, error) {
	var set libns.Set
	for _, name := range names {
		k, err := libns.ParseKind(specs.LinuxNamespaceType(name))
		if err != nil {
			return 0, err
		}
		set = set.Add(k)
	}
	return set, nil
}

func setup(cfg *Config, beforePivot func() error) (*execution, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	s := cfg.Spec
	created, _ := parseKinds(cfg.Namespaces)
	joined, _ := parseKinds(cfg.Joined)
	ns := created | joined // the container's own namespaces
	if created.Has(libns.Cgroup) {
		debugf("init: creating the cgroup namespace")
		// Per thread: this is the thread that mounts cgroupfs and execs.
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return nil, fmt.Errorf("create cgroup namespace: %w", err)
		}
	}
	// Opened before pivot_root while this process still owns a fresh
	// procfs view; used later to reopen exec.fifo without trusting the
	// container's /proc (which may be absent or fake).
	procfs := openPrivateProcfs()
	caps, err := loadCapabilities()
	if err != nil {
		return nil, err
	}
	phase.Mark("procfs-caps")
	filter, err := seccompFor(s.Linux.Seccomp, cfg.SeccompBPF)
	if err != nil {
		return nil, err
	}
	phase.Mark("seccomp-compiled")
	// A new time namespace and its offsets came from the constructor,
	// before the fork that made this process (libns/nsenter_linux.c).
	if !created.Has(libns.Time) && len(s.Linux.TimeOffsets) > 0 {
		return nil, errors.New("linux.timeOffsets: time offsets need a new time namespace")
	}
	debugf("init: setting up the root filesystem %s (%d mounts, no pivot %v)", cfg.Rootfs, len(s.Mounts), cfg.NoPivot)
	if err := setupRootfs(cfg, ns, beforePivot); err != nil {
		return nil, err
	}
	phase.Mark("masked-paths")
	debugf("init: root filesystem ready")
	if err := setupTerminal("init", s.Process, cfg.ConsoleFd, ns.Has(libns.Mount)); err != nil {
		return nil, err
	}
	debugf("init: setting %d sysctls, hostname %q", len(s.Linux.Sysctl), s.Hostname)
	if err := finishDev(); err != nil {
		return nil, err
	}
	if err := setSysctls(procfs, s.Linux.Sysctl, ns); err != nil {
		return nil, err
	}
	if err := setupUTS(cfg, ns); err != nil {
		return nil, err
	}
	if created.Has(libns.Net) {
		if err := loopbackUp(); err != nil {
			return nil, err
		}
	}
	in := finishInput{
		role: "init", process: s.Process, procfs: procfs, caps: caps, filter: filter,
		selinux: cfg.SELinux, personality: s.Linux.Personality, preserved: cfg.PreserveFds,
	}
	if !cfg.NoNewKeyring {
		in.keyring = "_ses." + cfg.ID
	}
	exe, err := finishProcess(in)
	if err != nil {
		return nil, err
	}
	debugf("init: set-up complete, reporting ready")
	return exe, nil
}

// waitForStart blocks until `rung start` opens exec.fifo for reading. The
// fifo is reached through the O_PATH fd the runtime passed: the state
// directory itself is never visible in the container.
func (e *execution) waitForStart(park bool) error {
	name := fmt.Sprintf("self/fd/%d", FifoFd)
	// Only for a create: a run's start comes at once, and would wait for
	// this. Not under an early seccomp filter: the profile need not allow what
	// parking lightly calls (openat, read, madvise), and a refused call
	// could kill init.
	var drop []fileRange
	if park && !e.seccompLoaded {
		drop = droppableMappings(e.procfs)
		phase.Mark("parked")
	}
	dirfd, path := unix.AT_FDCWD, "/proc/"+name
	if e.procfs != nil {
		dirfd, path = int(e.procfs.Fd()), name
	}
	fd, err := dropAndOpen(drop, dirfd, path)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	if _, err := unix.Write(fd, []byte("0")); err != nil {
		return fmt.Errorf("write exec fifo: %w", err)
	}
	// The O_PATH handle names the fifo in the host's state directory:
	// no startContainer hook or container process may inherit it.
	if err := unix.Close(FifoFd); err != nil {
		return fmt.Errorf("close exec fifo handle: %w", err)
	}
	// Left open, close-on-exec: `start` reads end-of-file exactly when the
	// user process has been exec'd, and only then runs poststart hooks.
	return nil
}

func (e *execution) exec() error {
	if err := sealFds(); err != nil && !e.seccompLoaded {
		return err
	}
	if err := placePreserved(e.preserved); err != nil {
		return err
	}
	if err := setRlimits(e.rlimits); err != nil {
		return err
	}
	if e.seccomp != nil {
		// As late as possible: only the startContainer hooks and the exec
		// itself run under the filter.
		if err := e.seccomp.Load(); err != nil {
			return fmt.Errorf("linux.seccomp: load filter: %w", err)
		}
		phase.Mark("seccomp-loaded")
	}
	// The runtime spec runs startContainer hooks in the container, and
	// runc runs them under its seccomp filter: a hook from the image gets
	// no syscall the process would not get. Every fd but stdio and the
	// preserved ones is close-on-exec by now.
	if len(e.startHooks) > 0 {
		if err := hooks.Run("startContainer", e.startHooks, e.hookState); err != nil {
			return hookError{err}
		}
	}
	phase.Mark("exec")
	err := syscall.Exec(e.path, e.args, e.env)
	return fmt.Errorf("exec %s: %w", e.path, err)
}

// placePreserved moves the --preserve-fds fds to 3, 4, ... without
// close-on-exec. They are first moved out of the way, so no target
// number overwrites a source still to be placed.
func placePreserved(fds []int) error {
	tmp := make([]int, len(fds))
	for i, fd := range fds {
		t, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 1000)
		if err != nil {
			return fmt.Errorf("preserve fd: %w", err)
		}
		tmp[i] = t
	}
	for i, t := range tmp {
		if err := unix.Dup3(t, 3+i, 0); err != nil {
			return fmt.Errorf("preserve fd %d: %w", 3+i, err)
		}
	}
	return nil
}

// sealFds marks every fd above stdio close-on-exec. CVE-2024-21626: no fd
// of the runtime's may survive into the container process. Every fd init
// opens itself is O_CLOEXEC already; this catches the inherited ones.
func sealFds() error {
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("close fds: %w", err)
	}
	return nil
}

// loadSeccompEarly loads a filter while init still has CAP_SYS_ADMIN
// (needed without no_new_privs), sealing fds first: the profile need not
// allow close_range.
func loadSeccompEarly(f *seccompProgram) error {
	if err := sealFds(); err != nil {
		return err
	}
	if err := f.Load(); err != nil {
		return fmt.Errorf("linux.seccomp: load filter: %w", err)
	}
	return nil
}

// openPrivateProcfs mounts nothing: it opens a detached procfs instance
// for this pid namespace, or returns nil where the kernel refuses one.
func openPrivateProcfs() *os.File {
	fsfd, err := unix.Fsopen("proc", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil
	}
	defer unix.Close(fsfd)
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return nil
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return nil
	}
	return os.NewFile(uintptr(mfd), "procfs")
}

// MapWaitEnv, set in init's environment, says that init was cloned into a
// user namespace without mappings, which the runtime then writes with
// newuidmap/newgidmap (a rootless caller's subordinate ranges).
const MapWaitEnv = "_RUNG_MAP_WAIT"

// awaitMapping waits for the runtime's byte on the sync socket that says
// the mappings are written, then execs init again: the first exec ran as
// an unmapped uid, which drops every capability; the second runs as the
// namespace's root and keeps them (capabilities(7), execve as root).
// Until then init stays dumpable, or newuidmap, which checks the target's
// owner through /proc, would refuse it; it holds no container yet, and
// only the caller's own host processes can see its pid.
func awaitMapping() {
	var b [1]byte
	if n, err := unix.Read(SyncFd, b[:]); n != 1 || err != nil {
		os.Exit(1)
	}
	os.Unsetenv(MapWaitEnv)
	_ = unix.Exec("/proc/self/exe", os.Args, os.Environ())
	os.Exit(1)
}
