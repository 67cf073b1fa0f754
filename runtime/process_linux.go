package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// procStat is what rung needs from /proc/<pid>/stat.
type procStat struct {
	state     byte
	ppid      int
	startTime uint64 // clock ticks after boot: with the pid, names one process for good
}

func readProcStat(pid int) (procStat, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// The command name is in parentheses and may contain anything, so
	// fields are counted from the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return procStat{}, err
	}
	st, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return procStat{}, err
	}
	return procStat{state: f[0][0], ppid: ppid, startTime: st}, nil
}

// alive reports whether pid is still the process that started at
// startTime and has not exited (a zombie has exited).
func alive(pid int, startTime uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := readProcStat(pid)
	if err != nil {
		return false
	}
	return st.startTime == startTime && st.state != 'Z' && st.state != 'X'
}

// errNotRunning is the text engines match on.
var errNotRunning = errors.New("container not running")

// openProcess returns a pidfd for pid, but only if it is still the process
// that started at startTime: with the pidfd held, the check cannot go stale
// by pid reuse.
func openProcess(pid int, startTime uint64) (int, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return -1, errNotRunning
		}
		return -1, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	if !alive(pid, startTime) {
		unix.Close(fd)
		return -1, errNotRunning
	}
	return fd, nil
}

// signalProcess sends sig to pid if it is still the recorded process.
func signalProcess(pid int, startTime uint64, sig unix.Signal) error {
	fd, err := openProcess(pid, startTime)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return errNotRunning
		}
		return fmt.Errorf("signal %d: %w", pid, err)
	}
	return nil
}

// waitGone blocks until the process behind pidfd has exited; a pidfd
// becomes readable then, whether or not rung is its parent.
func waitGone(pidfd int, timeoutMs int) error {
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, timeoutMs)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return errors.New("timed out waiting for the container process to exit")
		}
		return nil
	}
}

// sendPidfd passes a pidfd of pid to the engine listening on the AF_UNIX
// socket at path (--pidfd-socket), so it can wait for and signal the
// process without racing pid reuse.
func sendPidfd(path string, pid int) error {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("--pidfd-socket: pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(pidfd)
	return sendPidfdFd(path, pidfd)
}

// sendPidfdFd passes pidfd to the engine listening at path.
func sendPidfdFd(path string, pidfd int) error {
	sock, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("--pidfd-socket: %w", err)
	}
	defer unix.Close(sock)
	if err := unix.Connect(sock, &unix.SockaddrUnix{Name: path}); err != nil {
		return fmt.Errorf("--pidfd-socket: connect to %s: %w", path, err)
	}
	if err := unix.Sendmsg(sock, []byte("pidfd"), unix.UnixRights(pidfd), nil, 0); err != nil {
		return fmt.Errorf("--pidfd-socket: send to %s: %w", path, err)
	}
	return nil
}
