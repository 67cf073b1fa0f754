package initproc

import (
	"errors"
	"fmt"
	"os"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rungrt/rung/internal/phase"
)

// The finish both children share, `rung init` (setup) and `rung nsexec`
// (execProcess): the process' attributes, then its credentials, in the
// order security needs:
//
//   - the LSM labels (AppArmor, SELinux) and the session keyring while
//     still privileged, the keyring after the SELinux key label;
//   - the cwd entered while privileged where it can be (a directory only
//     the container's user may enter is entered after the switch);
//   - without no_new_privs, the seccomp filter before the capability drop:
//     the kernel takes one then only with CAP_SYS_ADMIN;
//   - credentials and capabilities;
//   - no_new_privs, and only after it a filter with a listener, as late as
//     the runtime is still there to take its fd. Any other filter loads
//     just before the exec (execution.exec).

// finishInput is what the shared finish reads.
type finishInput struct {
	role    string // "init" or "exec": the debug log's prefix
	process *specs.Process
	procfs  *os.File // private procfs, or nil
	caps    capability.Capabilities
	filter  *seccompProgram // nil without linux.seccomp
	selinux bool            // the runtime found SELinux enabled
	// personality (init only): linux.personality.
	personality *specs.LinuxPersonality
	// keyring (init only): the session keyring to join, "" to keep the
	// caller's (--no-new-keyring, and exec).
	keyring   string
	preserved []int // --preserve-fds, handed on as 3, 4, ...
}

// setupTerminal gives the process the pty it sends over the console
// socket, when process.terminal; mountConsole binds it on /dev/console.
func setupTerminal(role string, p *specs.Process, consoleFd int, mountConsole bool) error {
	if !p.Terminal {
		return nil
	}
	if consoleFd == 0 {
		return errors.New("process.terminal: no console socket")
	}
	debugf("%s: setting up the console", role)
	sock := os.NewFile(uintptr(consoleFd), "console-socket")
	err := setupConsole(sock, p.ConsoleSize, mountConsole, p.User.UID)
	sock.Close()
	if err != nil {
		return fmt.Errorf("process.terminal: %w", err)
	}
	return nil
}

// finishProcess applies the process' attributes and credentials and
// returns it ready for exec.
func finishProcess(in finishInput) (*execution, error) {
	p := in.process
	if err := setOOMScoreAdj(in.procfs, p.OOMScoreAdj); err != nil {
		return nil, err
	}
	if err := setAppArmor(in.procfs, p.ApparmorProfile); err != nil {
		return nil, err
	}
	if err := setSELinuxLabel(in.procfs, p.SelinuxLabel, in.selinux); err != nil {
		return nil, err
	}
	if err := setPersonality(in.personality); err != nil {
		return nil, err
	}
	if in.keyring != "" {
		// Without its own session keyring the container would share the
		// caller's keys.
		if _, err := unix.KeyctlJoinSessionKeyring(in.keyring); err != nil && !errors.Is(err, unix.ENOSYS) {
			return nil, fmt.Errorf("join a new session keyring: %w", err)
		}
	}
	if err := checkRlimits(p.Rlimits, in.caps); err != nil {
		return nil, err
	}
	exe, err := resolveExecutable(p)
	if err != nil {
		return nil, err
	}
	debugf("%s: process %s resolved to %s, cwd %s", in.role, p.Args[0], exe.path, p.Cwd)
	exe.rlimits, exe.procfs, exe.preserved = p.Rlimits, in.procfs, in.preserved
	chdirLater, err := enterCwdPrivileged(p.Cwd)
	if err != nil {
		return nil, err
	}
	exe.seccomp = in.filter
	if in.filter != nil && !p.NoNewPrivileges {
		// Without no_new_privs the kernel accepts a filter only from a
		// process with CAP_SYS_ADMIN: load it before capabilities drop.
		debugf("%s: loading the seccomp filter before the capability drop (no no_new_privs)", in.role)
		if err := loadSeccompEarly(in.filter); err != nil {
			return nil, err
		}
		exe.seccomp, exe.seccompLoaded = nil, true
	}
	phase.Mark("process-attrs")
	debugf("%s: switching to uid %d gid %d and setting capabilities", in.role, p.User.UID, p.User.GID)
	if exe.warnings, exe.notes, err = setupCredentials(p, in.caps); err != nil {
		return nil, err
	}
	if chdirLater {
		if err := enterCwd(p.Cwd); err != nil {
			return nil, err
		}
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return nil, fmt.Errorf("process.noNewPrivileges: %w", err)
		}
	}
	if exe.seccomp != nil && exe.seccomp.notify {
		// The notify fd must reach the runtime, which is gone once create
		// returns and which exec's socket no longer reaches after the
		// exec: load it now, under no_new_privs (runc does the same).
		debugf("%s: loading the seccomp filter with a listener", in.role)
		if err := loadSeccompEarly(exe.seccomp); err != nil {
			return nil, err
		}
		exe.seccomp, exe.seccompLoaded = nil, true
	}
	return exe, nil
}
