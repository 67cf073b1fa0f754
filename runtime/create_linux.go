package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/rungrt/rung/hooks"
	"github.com/rungrt/rung/hostroot"
	"github.com/rungrt/rung/initproc"
	"github.com/rungrt/rung/internal/killpoint"
	"github.com/rungrt/rung/internal/phase"
	"github.com/rungrt/rung/internal/statefs"
	"github.com/rungrt/rung/libns"
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
	// StartsAtOnce: `run` starts the container as soon as it is created,
	// so its init does not park (initproc.Config.Park).
	StartsAtOnce bool
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
	c, err := validate(o)
	if err != nil {
		return nil, err
	}
	if !o.SystemdCgroup { // systemd makes the attach itself
		warmCgroupAttach()
	}
	defer c.closeJoins()
	defer func() { err = c.finish(err) }()
	if err := c.prepare(); err != nil {
		return nil, err
	}
	if err := c.launch(); err != nil {
		return nil, err
	}
	if err := c.handshake(); err != nil {
		return nil, err
	}
	return c.record()
}

// creation is one Create under way: what each step found or made, and
// what finish undoes when a later step fails.
type creation struct {
	o         CreateOptions
	bundle    string
	s         *specs.Spec
	plan      spec.Plan
	selinuxOn bool
	joins     []libns.Join
	// isolated: the namespaces that really set the container apart.
	isolated libns.Set
	reading  libns.Reading
	hostProc bool

	// made by prepare
	dir           string
	lock          *os.File // held from the state directory's mkdir on
	spare         []int
	hostRootTried bool
	hostRootMnt   uint64
	cg            cgroups.Manager
	cgConf        *cgroups.Cgroup
	cgRef         *CgroupRef
	cgDir         *os.File // for CLONE_INTO_CGROUP, or nil
	tty           *ttyProxy
	console       *os.File

	// made by launch and handshake
	initLog   *childLog
	init      *launched
	hookState *specs.State
	enc       *json.Encoder
	dec       *json.Decoder
	ready     initproc.Ready
}

// validate loads and checks the bundle, opens the namespaces to join and
// reads the isolation; it makes nothing.
func validate(o CreateOptions) (_ *creation, err error) {
	if err := ValidateID(o.ID); err != nil {
		return nil, err
	}
	if err := checkPreserved(o.PreserveFds); err != nil {
		return nil, err
	}
	c := &creation{o: o}
	if err := c.loadBundle(); err != nil {
		return nil, err
	}
	var mountLabel string
	if c.s.Linux != nil {
		mountLabel = c.s.Linux.MountLabel
	}
	if c.selinuxOn, err = selinuxLabels(c.s.Process, mountLabel); err != nil {
		return nil, err
	}
	if c.joins, err = openJoins(c.plan); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.closeJoins()
		}
	}()
	// A namespace joined from the host does not isolate: the ladder reads
	// only what really sets the container apart.
	if c.isolated, err = isolating(c.plan, c.joins); err != nil {
		return nil, err
	}
	c.reading = libns.Assess(c.isolated)
	if o.MinRung != nil {
		if err := libns.RequireRung(c.isolated, *o.MinRung); err != nil {
			return nil, err
		}
	}
	procMount := hostProcMount(c.s, c.isolated)
	c.hostProc = procMount >= 0
	if c.hostProc {
		logrus.Warn(hostProcWarning(c.s, procMount, o.MinRung))
	}
	if err := checkRoot(o.Root); err != nil {
		return nil, err
	}
	phase.Mark("config-validated")
	return c, nil
}

// loadBundle reads the bundle's config and plans its namespaces.
func (c *creation) loadBundle() error {
	bundle, err := filepath.Abs(c.o.Bundle)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(bundle); err != nil {
		return fmt.Errorf("bundle: %w", err)
	} else if !fi.IsDir() {
		return fmt.Errorf("bundle %s is not a directory", bundle)
	}
	c.bundle = bundle
	if c.s, err = spec.Load(bundle); err != nil {
		return err
	}
	phase.Mark("config-loaded")
	if c.plan, err = spec.Validate(c.s, bundle); err != nil {
		return err
	}
	for _, w := range c.plan.Warnings {
		logrus.Warn(w)
	}
	if os.Geteuid() != 0 {
		return checkRootless(c.s, c.plan)
	}
	return nil
}

func (c *creation) closeJoins() {
	for _, j := range c.joins {
		j.File.Close()
	}
}

// prepare makes what init needs before it can be cloned: the locked state
// directory, the rootfs copy (no mount namespace), the cgroup and the
// console.
func (c *creation) prepare() error {
	if err := c.makeStateDir(); err != nil {
		return err
	}
	// Decided by identity, not by the config: a mount namespace joined by
	// a path that names the runtime's own is no namespace of the
	// container's, and init must not make the host's "/" a slave and
	// pivot_root in it.
	if !c.isolated.Has(libns.Mount) {
		c.hostRootTried = true
		var err error
		if c.hostRootMnt, err = hostroot.Attach(c.dir, spec.RootfsPath(c.s, c.bundle)); err != nil {
			return err
		}
		killpoint.Hit(killpoint.CreateHostRoot)
	}
	if err := c.openCgroup(); err != nil {
		return err
	}
	if c.s.Process.Terminal && c.o.ConsoleSocket == "" && c.o.RelayTerminal {
		var err error
		if c.tty, err = newTTYProxy(); err != nil {
			return err
		}
	}
	var err error
	if c.console, err = consoleFor(c.s.Process, c.o.ConsoleSocket, c.tty); err != nil {
		return err
	}
	if c.cgDir, err = precreateCgroup(c.cg, c.cgConf); err != nil {
		return err
	}
	phase.Mark("cgroup-prepared")
	return nil
}

// makeStateDir makes and locks the container's state directory; from here
// on finish removes it on error.
func (c *creation) makeStateDir() error {
	if err := os.MkdirAll(c.o.Root, 0o700); err != nil {
		return fmt.Errorf("create state root: %w", err)
	}
	dir := stateDir(c.o.Root, c.o.ID)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("container with id exists: %s", c.o.ID)
		}
		return fmt.Errorf("create state directory: %w", err)
	}
	lock, err := statefs.Lock(dir, true)
	if err != nil {
		os.Remove(dir)
		return err
	}
	c.dir, c.lock = dir, lock
	killpoint.Hit(killpoint.CreateDir)
	// Two fds in reserve: a create that failed for want of fds
	// (RLIMIT_NOFILE) must still be able to remove what it made.
	c.spare = reserveFds(2)
	return nil
}

// openCgroup records the container's cgroup (cgroup.json) before making it.
func (c *creation) openCgroup() error {
	var unit *SystemdUnit
	var err error
	if c.o.SystemdCgroup {
		if unit, err = ParseSystemdCgroupsPath(c.s.Linux.CgroupsPath, c.o.ID, c.o.Rootless); err != nil {
			return err
		}
	}
	cgConf, cgWarnings, err := cgroupConfig(c.s, c.o.ID, unit)
	if err != nil {
		return err
	}
	cgConf.Rootless = c.o.Rootless
	for _, w := range cgWarnings {
		logrus.Warn(w)
	}
	c.cgConf = cgConf
	if c.cg, c.cgRef, err = openCgroup(c.dir, cgConf, unit); err != nil {
		return err
	}
	killpoint.Hit(killpoint.CreateCgroupRecorded)
	return nil
}

// finish closes what Create held, and on error undoes what it made:
// init killed and reaped, the cgroup removed, the rootfs copy detached,
// the state directory removed.
func (c *creation) finish(err error) error {
	if c.init != nil {
		c.init.sync.Close()
	}
	for _, f := range []*os.File{c.cgDir, c.console} {
		if f != nil {
			f.Close()
		}
	}
	if err != nil && c.tty != nil {
		c.tty.Close()
	}
	if err != nil && c.lock != nil {
		err = c.undo(err)
	}
	closeFds(c.spare)
	if c.lock != nil {
		c.lock.Close()
	}
	return err
}

func (c *creation) undo(err error) error {
	closeFds(c.spare)
	c.spare = nil
	if c.init != nil {
		// rung is init's parent or subreaper: kill and reap it, so that
		// it has left the cgroup before that is removed.
		_ = unix.Kill(c.init.pid, unix.SIGKILL)
		_, _ = unix.Wait4(c.init.pid, nil, 0, nil)
	}
	if cerr := removeCgroup(c.cgRef); cerr != nil {
		// Keep the state directory: it records the cgroup (cgroup.json),
		// and `delete` retries.
		return fmt.Errorf("%w (and removing the cgroup: %v)", err, cerr)
	}
	if c.hostRootTried {
		if uerr := hostroot.Detach(c.dir); uerr != nil {
			// Keep the record: the state directory stays as a leftover,
			// and `delete` retries.
			return fmt.Errorf("%w (and cleaning up: %v)", err, uerr)
		}
	}
	// Its fd too may be needed: nothing recorded is left, and neither
	// delete nor a create can take the directory now.
	c.lock.Close()
	os.RemoveAll(c.dir)
	return err
}

// launch starts init, waiting for its config, and moves it into its
// cgroup before it can fork.
func (c *creation) launch() error {
	var err error
	if c.initLog, err = newChildLog(); err != nil {
		return err
	}
	if c.init, err = c.startInit(); err != nil {
		return err
	}
	killpoint.Hit(killpoint.CreateInit)
	var kernelTCP *int64
	if r := c.s.Linux.Resources; r != nil && r.Memory != nil {
		kernelTCP = r.Memory.KernelTCP
	}
	// Cloned into its cgroup (v2), init needs no attach. Otherwise its
	// config goes first: the attach may wait an RCU grace period (v1), and
	// init decodes the config meanwhile (Config.AwaitCgroup).
	attach := c.cgDir == nil
	joinPid := -1
	if attach {
		joinPid = c.init.pid
		if err := c.sendConfig(true); err != nil {
			return err
		}
	}
	if err := applyCgroup(c.cg, c.cgConf, joinPid, kernelTCP); err != nil {
		return err
	}
	if attach {
		if err := initproc.Send(c.enc, initproc.CgroupJoined{}); err != nil {
			return fmt.Errorf("tell init it is in its cgroup: %w", err)
		}
	}
	// Rootless: the hierarchies the caller could not use are gone from
	// the manager; the record names only the cgroups init is really in.
	c.cgRef.Paths = c.cg.GetPaths()
	if c.o.Rootless {
		// The named hierarchies (name=systemd, the hybrid cgroup2) are
		// joined best effort by the library, even when mkdir failed.
		for k, p := range c.cgRef.Paths {
			if _, err := os.Stat(p); err != nil {
				delete(c.cgRef.Paths, k)
			}
		}
	}
	phase.Mark("cgroup-applied")
	killpoint.Hit(killpoint.Cgroup)
	return nil
}

// startInit re-execs rung as `rung init` inside the planned namespaces.
// New namespaces are created by clone flags (Path A); when the plan joins
// namespaces, the nsenter constructor enters them before the Go runtime
// starts (Path B), and creates the new ones itself after a joined user
// namespace, or a pid namespace that needs a fork. init then waits for
// its config.
func (c *creation) startInit() (*launched, error) {
	fifo, err := openExecFifo(c.dir)
	if err != nil {
		return nil, err
	}
	defer fifo.Close()
	// mapTool: a rootless caller's subordinate ids, mapped after the clone
	// by newuidmap/newgidmap (writeMappings).
	mapTool := c.plan.Create.Has(libns.User) && os.Geteuid() != 0 && !ownIDsOnly(c.s)
	attr, unshare, err := cloneAttrs(c.s, c.plan, c.joins, c.cgDir, mapTool)
	if err != nil {
		return nil, err
	}
	var env []string
	if mapTool {
		env = append(env, initproc.MapWaitEnv+"=1")
	}
	if len(c.joins) == 0 {
		// init opens the profile by path: only where that resolves in
		// the host's tree, never inside a joined mount namespace.
		env = append(env, phase.ChildEnv()...)
	}
	o := launchOptions{
		name: "container init", verb: "init", dir: c.bundle, env: env,
		fifo: fifo, log: c.initLog, console: c.console,
		preserved: preservedFiles(c.o.PreserveFds),
		joins:     c.joins, unshare: unshare, timeOffsets: c.s.Linux.TimeOffsets,
		attr: attr,
		// init is the constructor's child: as subreaper rung becomes its
		// parent, so a foreground run can wait for it.
		subreaper: libns.NeedsFork(c.joins, unshare),
		phase:     "init",
	}
	if mapTool {
		o.mapIDs = c.s
	}
	return launch(o)
}

// openExecFifo makes <state>/exec.fifo and opens the O_PATH handle init
// gets as initproc.FifoFd.
func openExecFifo(dir string) (*os.File, error) {
	fifo := filepath.Join(dir, fifoName)
	// 0622: init writes to it after switching to the container's user.
	if err := unix.Mkfifo(fifo, 0o622); err != nil {
		return nil, fmt.Errorf("create exec fifo: %w", err)
	}
	if err := os.Chmod(fifo, 0o622); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(fifo, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open exec fifo: %w", err)
	}
	return f, nil
}

// cloneAttrs splits the new namespaces between clone flags and the
// constructor, and sets the id maps that clone writes.
func cloneAttrs(s *specs.Spec, plan spec.Plan, joins []libns.Join, cgroupDir *os.File, mapTool bool) (*syscall.SysProcAttr, libns.Set, error) {
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
	if mapTool && inConstructor {
		return nil, 0, errors.New("rootless: a new user namespace with subordinate id mappings beside joined namespaces or a new time namespace is not supported")
	}
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
	return attr, unshare, nil
}

// sendConfig sends init its config; awaitCgroup: before the cgroup
// attach, which CgroupJoined then reports.
func (c *creation) sendConfig(awaitCgroup bool) error {
	// Hooks during create see "created", as runc and crun pass it and the
	// runtime-tools hook tests expect.
	c.hookState = &specs.State{Version: ociVersion, ID: c.o.ID, Status: specs.StateCreated, Pid: c.init.pid, Bundle: c.bundle, Annotations: c.s.Annotations}
	cfg := c.configFor()
	cfg.AwaitCgroup = awaitCgroup
	// The compiled filter goes with the config: from the cache, or
	// compiled now while init starts up.
	if err := prepareSeccomp(&cfg.SeccompBPF, c.o.Root, c.s.Linux.Seccomp); err != nil {
		return err
	}
	if err := sendConfig(c.init.sync, cfg); err != nil {
		return err
	}
	phase.Mark("config-sent")
	c.dec, c.enc = json.NewDecoder(c.init.sync), json.NewEncoder(c.init.sync)
	return nil
}

// handshake sends init its config, unless launch sent it already, and
// serves its requests until it is ready.
func (c *creation) handshake() error {
	if c.enc == nil {
		if err := c.sendConfig(false); err != nil {
			return err
		}
	}
	killpoint.Hit(killpoint.CreateConfig)
	ready, err := c.awaitReady()
	if err != nil {
		return err
	}
	c.ready = ready
	phase.Mark("init-ready")
	killpoint.Hit(killpoint.CreateReady)
	for _, w := range ready.Warnings {
		logrus.Warn(w)
	}
	for _, n := range ready.Notes {
		logrus.Debug(n)
	}
	return nil
}

// awaitReady answers init's requests until it reports Ready or Failed.
func (c *creation) awaitReady() (initproc.Ready, error) {
	for {
		m, err := initproc.Receive(c.dec)
		var pe *initproc.ProtocolError
		if errors.As(err, &pe) {
			return initproc.Ready{}, fmt.Errorf("unable to start container process: %w", err)
		} else if err != nil {
			c.initLog.wait() // init is gone
			return initproc.Ready{}, errors.New("unable to start container process: init exited before it was ready")
		}
		switch m := m.(type) {
		case initproc.Ready:
			return m, nil
		case initproc.Failed:
			c.initLog.wait() // init exits after its error
			return initproc.Ready{}, fmt.Errorf("unable to start container process: %s", m.Error)
		case initproc.BindSourcesRequest:
			err = sendBindSources(c.init.sync, c.init.pid, c.s, c.bundle)
		case initproc.SeccompFdOffer:
			st := *c.hookState
			st.Status = specs.StateCreating
			err = relaySeccompFd(c.init.sync, c.enc, c.s.Linux.Seccomp, c.init.pid, st)
		case initproc.RuntimeHooksRequest:
			if err = runRuntimeHooks(c.s.Hooks, c.hookState); err == nil {
				if serr := initproc.Send(c.enc, initproc.HooksDone{}); serr != nil {
					err = fmt.Errorf("resume init: %w", serr)
				}
			}
		default:
			err = fmt.Errorf("unable to start container process: %w", initproc.Unexpected(m))
		}
		if err != nil {
			return initproc.Ready{}, err
		}
	}
}

// record checks the namespaces, writes the state and releases init to
// wait for start.
func (c *creation) record() (*CreatedContainer, error) {
	pid := c.init.pid
	// Proof, not promise: each namespace the plan created must differ from
	// the runtime's own before the container is recorded.
	if err := libns.VerifyNew(pid, c.plan.Create); err != nil {
		return nil, err
	}
	if err := libns.VerifyJoined(pid, c.joins); err != nil {
		return nil, err
	}
	phase.Mark("namespaces-verified")
	rec, err := c.newRecord()
	if err != nil {
		return nil, err
	}
	if err := writeRecord(c.dir, rec); err != nil {
		return nil, err
	}
	phase.Mark("state-written")
	killpoint.Hit(killpoint.CreateRecord)
	if c.o.PidFile != "" {
		if err := statefs.WriteFileAtomic(c.o.PidFile, []byte(strconv.Itoa(pid)), 0o644); err != nil {
			return nil, fmt.Errorf("write pid file: %w", err)
		}
	}
	if c.o.PidfdSocket != "" {
		if err := sendPidfd(c.o.PidfdSocket, pid); err != nil {
			return nil, err
		}
	}
	// Marked before the send: init marks "released" once it has read it,
	// and the profile's order must be causal (TestProfileMarks).
	phase.Mark("init-released")
	if err := initproc.Send(c.enc, initproc.Release{}); err != nil {
		return nil, fmt.Errorf("release init: %w", err)
	}
	killpoint.Hit(killpoint.CreateDone)
	// init closes its log before it waits for start.
	c.initLog.wait()
	return &CreatedContainer{Container: &Container{root: c.o.Root, dir: c.dir, Rec: rec}, tty: c.tty}, nil
}

func (c *creation) newRecord() (*Record, error) {
	st, err := readProcStat(c.init.pid)
	if err != nil {
		return nil, fmt.Errorf("read init process: %w", err)
	}
	return &Record{
		ID:          c.o.ID,
		Pid:         c.init.pid,
		StartTime:   st.startTime,
		Bundle:      c.bundle,
		Rootfs:      spec.RootfsPath(c.s, c.bundle),
		Created:     time.Now().UTC(),
		Annotations: c.s.Annotations,
		Isolation: Isolation{
			Rung:       c.reading.Rung.String(),
			Namespaces: c.isolated.Names(),
			Extras:     c.reading.Extras.Names(),
			Joined:     c.plan.Joined().Names(),
			Verified:   true,
			HostProc:   c.hostProc,
		},
		PidNS:  c.plan.Create.Has(libns.PID),
		Cgroup: c.cgRef,
		config: c.s,
	}, nil
}

// configFor is init's Config.
func (c *creation) configFor() *initproc.Config {
	return &initproc.Config{
		ConsoleFd:   c.init.consoleFd,
		PreserveFds: c.init.preserved,
		HookState:   c.hookState,
		ID:          c.o.ID, Spec: c.s, Bundle: c.bundle, Rootfs: spec.RootfsPath(c.s, c.bundle),
		NoPivot: c.o.NoPivot, NoNewKeyring: c.o.NoNewKeyring, Namespaces: c.plan.Create.Names(),
		// Only the joined namespaces that set the container apart: one
		// that is the runtime's own is the host's to init.
		Joined:        c.isolated.Minus(c.plan.Create).Names(),
		HostRootMount: c.hostRootMnt,
		SELinux:       c.selinuxOn,
		Log:           c.initLog.w != nil,
		Park:          !c.o.StartsAtOnce,
		// With a user namespace, init's root may not reach a source that
		// host root can: the runtime opens them for it.
		BindSources: c.plan.Create.Has(libns.User) && hasBindMount(c.s, c.bundle),
	}
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
		id, err := libns.FileIdentity(j.File)
		if err != nil {
			return 0, err
		}
		ours, err := libns.IsOurs(j.Kind, id)
		if err != nil {
			return 0, err
		}
		if !ours {
			set = set.Add(j.Kind)
		}
	}
	return set, nil
}

// sendConfig sends init its config, the first message on the socket.
func sendConfig(sync *os.File, cfg *initproc.Config) error {
	if err := json.NewEncoder(sync).Encode(cfg); err != nil {
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
	if err := hooks.Run("prestart", h.Prestart, data); err != nil { //nolint:staticcheck // deprecated, still honoured
		return err
	}
	return hooks.Run("createRuntime", h.CreateRuntime, data)
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
