package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"sort"
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
	"github.com/rungrt/rung/internal/seccompcache"
	"github.com/rungrt/rung/internal/statefs"
	"github.com/rungrt/rung/libns"
)

// Container is one container's state directory, loaded.
type Container struct {
	root string
	dir  string
	Rec  *Record
}

// Load reads a container's state. A state directory without a state file
// is either a create still in progress (it holds the directory lock) or
// the leftover of a create that was killed; both read as not existing,
// and Delete removes the leftover.
func Load(root, id string) (*Container, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	if err := checkRoot(root); err != nil {
		return nil, err
	}
	dir := stateDir(root, id)
	if err := checkStateDir(dir); errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotExist
	} else if err != nil {
		return nil, err
	}
	rec, err := readRecord(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotExist
	}
	if err != nil {
		return nil, err
	}
	return &Container{root: root, dir: dir, Rec: rec}, nil
}

// Status derives the status from the live process: init alive with the
// fifo present is created, alive without it running, gone stopped.
func (c *Container) Status() Status {
	if !alive(c.Rec.Pid, c.Rec.StartTime) {
		return Stopped
	}
	if c.waitingForStart() {
		return Created
	}
	if c.freezerState() == cgroups.Frozen {
		return Paused
	}
	return Running
}

// waitingForStart reports whether init still waits for `start`: exec.fifo
// is there and init still holds its handle on it (initproc.FifoFd), which
// it closes just before it execs the user process. The fifo alone is not
// enough: a `start` killed after it released init, before it removed the
// fifo, leaves it behind with the user process running.
func (c *Container) waitingForStart() bool {
	var fifo, held unix.Stat_t
	if err := unix.Lstat(filepath.Join(c.dir, fifoName), &fifo); err != nil {
		return false
	}
	if err := unix.Stat(fmt.Sprintf("/proc/%d/fd/%d", c.Rec.Pid, initproc.FifoFd), &held); err != nil {
		// A caller that may not look (EACCES: init is not dumpable and
		// the caller lacks CAP_SYS_PTRACE over it) has the fifo to go by.
		return errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM)
	}
	return fifo.Dev == held.Dev && fifo.Ino == held.Ino
}

// State is the OCI state of the container.
func (c *Container) State() State {
	st := c.Status()
	pid := c.Rec.Pid
	if st == Stopped {
		pid = 0
	}
	iso := c.Rec.Isolation
	return State{
		Version:     ociVersion,
		ID:          c.Rec.ID,
		Pid:         pid,
		Status:      st,
		Bundle:      c.Rec.Bundle,
		Rootfs:      c.Rec.Rootfs,
		Created:     c.Rec.Created,
		Annotations: c.Rec.Annotations,
		Isolation:   &iso,
	}
}

// Signal sends sig to the container's init, or with all to every process
// of the container.
//
// A stopped container's init is gone, but with all its cgroup may still
// hold processes: those of a container that shares a pid namespace (a
// pod's) outlive its init, reparented to the namespace's init. As runc
// does, kill --all then signals them and is not an error; the runc shim
// relies on it to clean up a pod container before delete.
func (c *Container) Signal(sig unix.Signal, all bool) error {
	st := c.Status()
	stopped := st == Stopped
	if !all {
		if stopped {
			return errNotRunning
		}
		return signalProcess(c.Rec.Pid, c.Rec.StartTime, sig)
	}
	if stopped && len(c.Rec.Cgroup.dirs()) == 0 {
		return nil
	}
	// Frozen, no process can fork a new one between listing and
	// signalling; frozen processes take the signal when thawed.
	frozen := st == Paused
	if !frozen && len(c.Rec.Cgroup.dirs()) > 0 {
		if err := c.freeze(cgroups.Frozen); err == nil {
			defer func() { _ = c.freeze(cgroups.Thawed) }()
		}
	} else if frozen && sig == unix.SIGKILL {
		defer func() { _ = c.freeze(cgroups.Thawed) }()
	}
	pids, err := c.processes()
	if stopped && errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	// init last: when it dies in a pid namespace the kernel kills the rest
	// with SIGKILL, which would hide whether sig itself reached them.
	for _, p := range pids {
		if p.pid == c.Rec.Pid {
			continue
		}
		_ = signalProcess(p.pid, p.startTime, sig)
	}
	if stopped {
		return nil
	}
	return signalProcess(c.Rec.Pid, c.Rec.StartTime, sig)
}

type proc struct {
	pid       int
	startTime uint64
}

// processes lists the container's processes: those in its cgroup; for a
// container recorded without one, in its own pid namespace every process
// sharing init's pid namespace, and otherwise init and its descendants.
func (c *Container) processes() ([]proc, error) {
	if len(c.Rec.Cgroup.dirs()) > 0 {
		pids, err := c.cgroupPids()
		if err != nil {
			return nil, err
		}
		var out []proc
		for _, pid := range pids {
			if st, err := readProcStat(pid); err == nil {
				out = append(out, proc{pid, st.startTime})
			}
		}
		return out, nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var initNS libns.Identity
	if c.Rec.PidNS {
		if initNS, err = libns.IdentityOf(c.Rec.Pid, libns.PID); err != nil {
			return nil, fmt.Errorf("read container pid namespace: %w", err)
		}
	}
	children := map[int][]proc{}
	var out []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readProcStat(pid)
		if err != nil {
			continue
		}
		p := proc{pid, st.startTime}
		if c.Rec.PidNS {
			if ns, err := libns.IdentityOf(pid, libns.PID); err == nil && ns == initNS {
				out = append(out, p)
			}
			continue
		}
		children[st.ppid] = append(children[st.ppid], p)
	}
	if c.Rec.PidNS {
		return out, nil
	}
	out = []proc{{c.Rec.Pid, c.Rec.StartTime}}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i].pid]...)
	}
	return out, nil
}

// Start lets a created container's init exec the user process: opening
// exec.fifo for reading releases init, which is blocked opening it for
// writing.
func (c *Container) Start() error {
	switch st := c.Status(); st {
	case Created:
	case Stopped:
		return errors.New("cannot start a container that has stopped")
	default:
		return fmt.Errorf("cannot start an already running container")
	}
	killpoint.Hit(killpoint.StartBegin)
	// Read before init is let go: a config that cannot be read stops the
	// start, rather than leave poststart hooks unrun after it.
	startHooks, err := c.hooks()
	if err != nil {
		return fmt.Errorf("start container: %w", err)
	}
	// init's pidfd first: once the fifo is open, init may exec a user
	// process that exits at once, and init would then look not running.
	pidfd, err := openProcess(c.Rec.Pid, c.Rec.StartTime)
	if err != nil {
		return err
	}
	defer unix.Close(pidfd)
	fifo := filepath.Join(c.dir, fifoName)
	// Non-blocking open needs no writer; init's blocking open for writing
	// then completes, and it writes one byte. Polling the fifo together with
	// init's pidfd notices an init that died instead.
	fd, err := unix.Open(fifo, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("start container: open exec fifo: %w", err)
	}
	defer unix.Close(fd)
	killpoint.Hit(killpoint.StartFifo)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return fmt.Errorf("start container: %w", err)
		}
		if fds[0].Revents&unix.POLLIN != 0 {
			break
		}
		if fds[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0 {
			// A writer came and went without a byte for us: init was
			// released by an earlier start (killed before it removed the
			// fifo) and has exec'd, or it died.
			if alive(c.Rec.Pid, c.Rec.StartTime) {
				return errors.New("cannot start an already running container")
			}
			return errors.New("cannot start a container that has stopped")
		}
		if fds[1].Revents != 0 {
			return errors.New("cannot start a container that has stopped")
		}
	}
	phase.Mark("start-fifo")
	buf := make([]byte, 1)
	if n, err := unix.Read(fd, buf); n != 1 || buf[0] != '0' {
		return fmt.Errorf("start container: container init did not confirm start: %v", err)
	}
	killpoint.Hit(killpoint.StartRead)
	if err := os.Remove(fifo); err != nil {
		return fmt.Errorf("start container: remove exec fifo: %w", err)
	}
	killpoint.Hit(killpoint.StartRemoved)
	// init holds the fifo open until its exec: end-of-file means the user
	// process runs (or init died), and poststart hooks may follow.
	if err := awaitEOF(fd); err != nil {
		return fmt.Errorf("start container: %w", err)
	}
	phase.Mark("user-execd")
	killpoint.Hit(killpoint.StartDone)
	// The spec: a failing poststart hook is a warning, not an error.
	if h := startHooks; h != nil && len(h.Poststart) > 0 {
		for _, err := range hooks.RunWarn("poststart", h.Poststart, c.hookState(specs.StateRunning)) {
			logrus.Warn(err)
		}
	}
	return nil
}

func awaitEOF(fd int) error {
	buf := make([]byte, 16)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != nil && !errors.Is(err, unix.EINTR) {
			return err
		}
		n, err := unix.Read(fd, buf)
		if n == 0 && err == nil {
			return nil
		}
		if err != nil && !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

func (c *Container) hooks() (*specs.Hooks, error) {
	return c.Rec.Hooks()
}

func (c *Container) hookState(status specs.ContainerState) []byte {
	st := specs.State{Version: ociVersion, ID: c.Rec.ID, Status: status, Bundle: c.Rec.Bundle, Annotations: c.Rec.Annotations}
	if status != specs.StateStopped {
		st.Pid = c.Rec.Pid
	}
	data, _ := json.Marshal(st)
	return data
}

// Delete removes a stopped container; one that is created, running or
// paused only with force (the runtime spec: deleting a container that is
// not stopped MUST be an error; crun does so, runc deletes created ones).
//
// It holds the state directory's lock throughout, and deletes only the
// container it loaded: the ID may since have been deleted by another
// caller and taken by a new container, whose state must not go.
func (c *Container) Delete(force bool) error {
	lock, err := lockDirBounded(c.dir)
	if errors.Is(err, os.ErrNotExist) {
		return ErrNotExist
	}
	if err != nil {
		return err
	}
	defer lock.Close()
	if rec, err := readRecord(c.dir); err != nil || !sameContainer(rec, c.Rec) {
		return ErrNotExist
	}
	killpoint.Hit(killpoint.DeleteLocked)
	st := c.Status()
	if st != Stopped && !force {
		return fmt.Errorf("cannot delete container %s that is not stopped: %s", c.Rec.ID, st)
	}
	// The poststop hooks, read before anything is removed. A config that
	// cannot be read stops a plain delete; --force removes the container
	// all the same, without them, as it removes a container whose state
	// file cannot be read at all.
	stopHooks, err := c.hooks()
	if err != nil && !force {
		return err
	} else if err != nil {
		logrus.Warnf("poststop hooks not run: %v", err)
	}
	if st != Stopped {
		if err := c.killAndWait(); err != nil {
			return err
		}
	}
	// Without a pid namespace of its own, the container's processes can
	// outlive its init; they are killed so the cgroup can go (runc does
	// the same at delete). With its own, the kernel has killed them.
	if !c.Rec.PidNS {
		if err := c.killCgroup(); err != nil {
			return err
		}
	}
	killpoint.Hit(killpoint.DeleteKilled)
	if err := hostroot.Detach(c.dir); err != nil {
		return err
	}
	killpoint.Hit(killpoint.DeleteUnmounted)
	if err := c.destroyCgroup(); err != nil {
		return err
	}
	killpoint.Hit(killpoint.DeleteCgroup)
	if err := removeStateDir(c.dir); err != nil {
		return err
	}
	killpoint.Hit(killpoint.DeleteRemoved)
	// The spec: a failing poststop hook is a warning, not an error.
	if h := stopHooks; h != nil && len(h.Poststop) > 0 {
		for _, err := range hooks.RunWarn("poststop", h.Poststop, c.hookState(specs.StateStopped)) {
			logrus.Warn(err)
		}
	}
	return nil
}

// killAndWait SIGKILLs every process of the container and waits for init.
func (c *Container) killAndWait() error {
	pidfd, err := openProcess(c.Rec.Pid, c.Rec.StartTime)
	if errors.Is(err, errNotRunning) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(pidfd)
	if err := c.Signal(unix.SIGKILL, true); err != nil && !errors.Is(err, errNotRunning) {
		return err
	}
	return waitGone(pidfd, 10000)
}

// sameContainer reports whether two records are of one container: the
// same init, started at the same time, created at the same moment.
func sameContainer(a, b *Record) bool {
	return a.ID == b.ID && a.Pid == b.Pid && a.StartTime == b.StartTime && a.Created.Equal(b.Created)
}

// removeStateDir removes a container's state directory, state.json
// first: a delete killed half-way then leaves a leftover without a state
// file, which reads as missing and `delete` removes with what is left
// (cgroup.json, the host-mounts record).
func removeStateDir(dir string) error {
	if err := os.Remove(filepath.Join(dir, stateFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove state directory: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove state directory: %w", err)
	}
	return nil
}

// DeleteLeftover removes a state directory that has no state file and no
// create holding its lock: what a create killed half-way leaves. With
// force it also removes one whose state file is corrupt (a disk that
// filled, a file truncated by hand): what it records apart from the state
// file, the cgroup (and everything in it) and the rootfs copy, goes too.
func DeleteLeftover(root, id string, force bool) error {
	if err := ValidateID(id); err != nil {
		return err
	}
	if err := checkRoot(root); err != nil {
		return err
	}
	dir := stateDir(root, id)
	if err := checkStateDir(dir); errors.Is(err, os.ErrNotExist) {
		return ErrNotExist
	} else if err != nil {
		return err
	}
	// Bounded wait: the lock may be a create's still running, or, just
	// after a create was killed, its init's copy of the fd until that
	// execs (close-on-exec).
	lock, err := lockDirBounded(dir)
	if errors.Is(err, os.ErrNotExist) {
		return ErrNotExist
	}
	if err != nil {
		return err
	}
	defer lock.Close()
	if _, err := readRecord(dir); err == nil {
		return ErrStateAppeared
	} else if !errors.Is(err, os.ErrNotExist) && !force {
		return fmt.Errorf("%w (delete --force removes the container with what else it recorded)", err)
	}
	// The cgroup is recorded before it is made: what it holds (an init
	// that outlived its killed create) goes with it.
	ref, err := readCgroupRef(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := removeCgroup(ref); err != nil {
		return err
	}
	if err := hostroot.Detach(dir); err != nil {
		return err
	}
	return removeStateDir(dir)
}

var errBeingCreated = errors.New("container is being created")

// ErrStateAppeared: a create finished while DeleteLeftover waited for it;
// the container is a whole one now, for Delete.
var ErrStateAppeared = errors.New("state file appeared while deleting")

// lockDirBounded takes the state directory's lock, waiting at most 10 s
// for a create that holds it: every call must return.
func lockDirBounded(dir string) (*os.File, error) {
	for deadline := time.Now().Add(10 * time.Second); ; {
		f, err := statefs.Lock(dir, false)
		if !errors.Is(err, statefs.ErrLocked) {
			return f, err
		}
		if time.Now().After(deadline) {
			return nil, errBeingCreated
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// List loads every container under root, sorted by ID. Leftovers of a
// killed create are skipped; a corrupt state file is skipped with a
// warning.
func List(root string) ([]*Container, error) {
	if err := checkRoot(root); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Container
	for _, e := range entries {
		if !e.IsDir() || e.Name() == seccompcache.DirName {
			continue
		}
		c, err := Load(root, e.Name())
		if err != nil {
			if !errors.Is(err, ErrNotExist) {
				logrus.Warnf("list: %s: %v", e.Name(), err)
			}
			continue
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Rec.ID < out[j].Rec.ID })
	return out, nil
}

// Owner is the name of the user owning the state directory, as `list` shows.
func (c *Container) Owner() string {
	fi, err := os.Stat(c.dir)
	if err != nil {
		return ""
	}
	uid := fi.Sys().(*syscall.Stat_t).Uid
	if u, err := user.LookupId(strconv.Itoa(int(uid))); err == nil {
		return u.Username
	}
	return fmt.Sprintf("#%d", uid)
}
