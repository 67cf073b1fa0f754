// Package phase records where one rung command spends its milliseconds,
// for the anatomy table of tests/bench (issue 14). It is off unless the
// environment variable RUNG_PROFILE names a file; then each Mark appends
// one line to it:
//
//	<unix ns> <role> <mark>
//
// role is "rung" for the runtime, "init" for the container's init and
// "nsexec" for exec's helper; the bench writes "bench fork" and "bench
// reaped" around the command. Wall-clock time (time.Now, vDSO) is used
// because it compares across processes; over a few milliseconds a clock
// step is unlikely and would show as a wild outlier.
//
// The runtime hands the setting to init only when init joins no
// namespace (the constructor would enter them before this package opens
// the file), and never to exec's helper, which runs inside the container.
//
// When RUNG_PROFILE is unset the whole cost is one getenv at package
// init and a compare per Mark: no syscall, no allocation.
package phase

import (
	"os"
	"strconv"
	"syscall"
	"time"
)

// Env is the variable that turns the profile on.
const Env = "RUNG_PROFILE"

var (
	path string
	fd   = -1
	role = "rung"
)

func init() {
	p, ok := syscall.Getenv(Env)
	if !ok || p == "" {
		return
	}
	// Opened by path in every process, init included, before it changes
	// its root: the fd, close-on-exec, then outlives pivot_root, and
	// sealFds would catch it anyway (CVE-2024-21626). A process that
	// cannot open it (say, in a user namespace) records nothing.
	f, err := syscall.Open(p, syscall.O_WRONLY|syscall.O_APPEND|syscall.O_CREAT|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return
	}
	path, fd = p, f
	if len(os.Args) > 1 && (os.Args[1] == "init" || os.Args[1] == "nsexec") {
		role = os.Args[1]
	}
	Mark("go-init")
}

// Mark records that the process reached the named point. Names are
// single words (no spaces); the bench reads the span that ends at each.
func Mark(name string) {
	if fd < 0 {
		return
	}
	line := make([]byte, 0, 64)
	line = strconv.AppendInt(line, time.Now().UnixNano(), 10)
	line = append(line, ' ')
	line = append(line, role...)
	line = append(line, ' ')
	line = append(line, name...)
	line = append(line, '\n')
	// One write with O_APPEND: lines from the runtime and init never mix.
	_, _ = syscall.Write(fd, line)
}

// ChildEnv is what the runtime adds to the environment of a process it
// re-execs (init, nsexec), which gets an environment of its own: the
// profile setting, or nothing.
func ChildEnv() []string {
	if fd < 0 {
		return nil
	}
	return []string{Env + "=" + path}
}
