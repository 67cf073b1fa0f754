package runtime

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rungrt/rung/internal/killpoint"
	"github.com/rungrt/rung/internal/phase"
	"github.com/rungrt/rung/libns"
)

// launchOptions say how to start a child of rung's own binary, `rung
// init` for create or `rung nsexec` for exec, in the container's
// namespaces. The child gets the sync socket as fd 3 (initproc.SyncFd).
type launchOptions struct {
	name string // for errors: "container init", "exec process"
	verb string // "init" or "nsexec"
	dir  string // the child's working directory ("" for rung's own)
	env  []string
	// fifo (create) is the exec.fifo handle, fd 4 (initproc.FifoFd).
	// Without it (exec) fd 4 is the pid pipe, and the constructor always
	// reports there: without a fork the line says it has joined, and the
	// namespaces may be verified.
	fifo      *os.File
	log       *childLog
	console   *os.File   // the console socket, or nil
	preserved []*os.File // --preserve-fds
	root      *os.File   // init's root to chroot into (exec without a mount namespace)
	joins     []libns.Join
	unshare   libns.Set // created by the constructor, after the joins
	// timeOffsets: linux.timeOffsets, written by the constructor when
	// unshare has a time namespace.
	timeOffsets map[string]specs.LinuxTimeOffset
	attr        *syscall.SysProcAttr // clone flags, id maps, cgroup fd, pidfd
	// subreaper: become the parent of what the constructor forks.
	subreaper bool
	// mapIDs (rootless): write the id maps with newuidmap/newgidmap after
	// the clone, then wake the child with one byte.
	mapIDs *specs.Spec
	// phase names the phase marks around the clone ("init": init-spawn,
	// init-execd); spawned is the kill point right after it.
	phase, spawned string
}

// launched is a started child. On success the caller owns sync.
type launched struct {
	pid  int
	sync *os.File // the runtime's end of the sync socket
	// The child's fd numbers for what it was given (0 when none).
	consoleFd int
	preserved []int
	rootFd    int
	forked    bool // the constructor forked: pid is its child
}

// childFds numbers the files a child gets after stdio: the n-th added is
// fd 3+n in the child.
type childFds struct{ files []*os.File }

func (c *childFds) add(f *os.File) int {
	c.files = append(c.files, f)
	return 3 + len(c.files) - 1
}

// closers closes, once, what a step opened for its own use.
type closers []interface{ Close() error }

func (c closers) close() {
	for _, f := range c {
		f.Close()
	}
}

// launch re-execs rung (sealed, CVE-2019-5736) through /proc/self/fd/N
// with the fds and environment the nsenter constructor reads, and returns
// the child's pid once it is known: after the constructor's fork, the one
// it reports on the pid pipe. On error nothing it started is left.
func launch(o launchOptions) (_ *launched, err error) {
	var own closers // closed on return, whatever happens
	defer func() { own.close() }()
	if o.log != nil {
		defer o.log.started()
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("create sync socket: %w", err)
	}
	parent, child := os.NewFile(uintptr(fds[0]), "sync"), os.NewFile(uintptr(fds[1]), "sync-child")
	own = append(own, child)
	defer func() {
		if err != nil {
			parent.Close()
		}
	}()
	pidR, pidW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	own = append(own, pidR, pidW)
	exe, err := sealedExe(len(o.preserved))
	if err != nil {
		return nil, err
	}
	own = append(own, exe)
	l := &launched{sync: parent, forked: libns.NeedsFork(o.joins, o.unshare)}
	cmd, err := l.command(o, exe, child, pidW)
	if err != nil {
		return nil, err
	}
	if o.subreaper {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return nil, fmt.Errorf("become subreaper: %w", err)
		}
	}
	if err := l.start(o, cmd, pidW); err != nil {
		return nil, err
	}
	if err := l.readPid(o, cmd, pidR); err != nil {
		return nil, err
	}
	return l, nil
}

// command lays out the child's fds and environment.
func (l *launched) command(o launchOptions, exe, child, pidW *os.File) (*exec.Cmd, error) {
	var extra childFds
	extra.add(child) // initproc.SyncFd
	pidFd := -1
	if o.fifo != nil {
		extra.add(o.fifo) // initproc.FifoFd
	} else {
		pidFd = extra.add(pidW)
	}
	if o.log != nil && o.log.w != nil {
		extra.add(o.log.w) // initproc.LogFd
	}
	if o.console != nil {
		l.consoleFd = extra.add(o.console)
	}
	for _, f := range o.preserved {
		l.preserved = append(l.preserved, extra.add(f))
	}
	if pidFd < 0 && l.forked {
		pidFd = extra.add(pidW) // where the constructor reports init's pid
	}
	if o.root != nil {
		l.rootFd = extra.add(o.root)
	}
	// Never nil: exec.Cmd would hand the child rung's own environment.
	// (The child is this binary: main.go's //go:debug lines keep the Go
	// runtime off the host's cgroup cpu files there too.)
	env := append([]string{}, o.env...)
	if len(o.joins) > 0 || !o.unshare.IsEmpty() || pidFd >= 0 {
		nsFds := make([]int, len(o.joins))
		for i, j := range o.joins {
			nsFds[i] = extra.add(j.File)
		}
		e, err := libns.EnterEnv(o.joins, nsFds, pidFd, o.unshare)
		if err != nil {
			return nil, err
		}
		if o.unshare.Has(libns.Time) {
			offsets, err := libns.TimeOffsets(o.timeOffsets)
			if err != nil {
				return nil, err
			}
			env = append(env, libns.TimeOffsetsEnv+"="+offsets)
		}
		env = append(env, e)
	}
	return &exec.Cmd{
		Path:        fmt.Sprintf("/proc/self/fd/%d", exe.Fd()),
		Args:        []string{"rung", o.verb},
		Env:         env,
		Dir:         o.dir,
		Stdin:       os.Stdin,
		Stdout:      os.Stdout,
		Stderr:      os.Stderr,
		ExtraFiles:  extra.files,
		SysProcAttr: o.attr,
	}, nil
}

// start clones the child and, for a rootless user namespace, maps it.
func (l *launched) start(o launchOptions, cmd *exec.Cmd, pidW *os.File) error {
	// The clone happens on this thread; keep it from being reused mid-way.
	goruntime.LockOSThread()
	if o.phase != "" {
		phase.Mark(o.phase + "-spawn")
	}
	err := cmd.Start()
	if o.phase != "" {
		phase.Mark(o.phase + "-execd")
	}
	goruntime.UnlockOSThread()
	pidW.Close() // the child's copy is the only one now: EOF if it dies
	if err != nil {
		return fmt.Errorf("start %s: %w", o.name, err)
	}
	if o.spawned != "" {
		killpoint.Hit(o.spawned)
	}
	if o.mapIDs == nil {
		return nil
	}
	err = writeMappings(cmd.Process.Pid, o.mapIDs)
	if err == nil {
		if _, werr := l.sync.Write([]byte{'\n'}); werr != nil {
			err = fmt.Errorf("resume init after the mappings: %w", werr)
		}
	}
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	return err
}

// readPid learns the child's pid: the clone's own, or, after the
// constructor's fork, the one it reports once it has exited.
func (l *launched) readPid(o launchOptions, cmd *exec.Cmd, pidR *os.File) error {
	l.pid = cmd.Process.Pid
	if l.forked {
		if err := cmd.Wait(); err != nil {
			return fmt.Errorf("start %s: joining namespaces failed: %w", o.name, err)
		}
	} else if o.fifo != nil {
		return nil // init reports nothing: it is the clone itself
	}
	line, rerr := bufio.NewReader(pidR).ReadString('\n')
	reported, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || reported <= 0 || (!l.forked && reported != l.pid) {
		if !l.forked {
			_ = unix.Kill(l.pid, unix.SIGKILL)
			_, _ = unix.Wait4(l.pid, nil, 0, nil)
		}
		return fmt.Errorf("start %s: no pid reported after joining namespaces (%v)", o.name, rerr)
	}
	l.pid = reported
	return nil
}
