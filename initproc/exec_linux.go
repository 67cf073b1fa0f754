package initproc

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/rungrt/rung/libns"
)

// ExecMain is `rung nsexec`: a process the nsenter constructor has already
// moved into a running container's namespaces, and the runtime into its
// cgroup. It applies the exec'd process' rlimits, AppArmor profile, user,
// capabilities, no_new_privs and seccomp, and execs it. Success is the
// exec itself (the close-on-exec socket closes); failure is one Reply.
func ExecMain() {
	sync := os.NewFile(SyncFd, "sync")
	var cfg ExecConfig
	dec, enc := json.NewDecoder(sync), json.NewEncoder(sync)
	if err := dec.Decode(&cfg); err != nil {
		os.Exit(1)
	}
	seccompFdSink = func(fd int) error { return syncSeccompFd(enc, dec, fd) }
	if cfg.Log {
		openLog(LogFd)
	}
	debugf("exec: process received, in the container's namespaces and cgroup")
	err := execProcess(&cfg)
	_ = enc.Encode(Reply{Error: err.Error()})
	os.Exit(127)
}

func execProcess(cfg *ExecConfig) error {
	p := cfg.Process
	if p == nil || len(p.Args) == 0 {
		return errors.New("process.args: no command given")
	}
	procfs := openPrivateProcfs()
	if err := verifyJoined(procfs, cfg.Joined); err != nil {
		return err
	}
	if cfg.RootFd != 0 {
		if err := enterRoot(cfg.RootFd); err != nil {
			return err
		}
	}
	caps, err := loadCapabilities()
	if err != nil {
		return err
	}
	filter, err := seccompFor(cfg.Seccomp, cfg.SeccompBPF)
	if err != nil {
		return err
	}
	if p.Terminal {
		if cfg.ConsoleFd == 0 {
			return errors.New("process.terminal: no console socket")
		}
		sock := os.NewFile(uintptr(cfg.ConsoleFd), "console-socket")
		err := setupConsole(sock, p.ConsoleSize, false, p.User.UID)
		sock.Close()
		if err != nil {
			return fmt.Errorf("process.terminal: %w", err)
		}
	}
	if err := checkRlimits(p.Rlimits, caps); err != nil {
		return err
	}
	if err := setOOMScoreAdj(procfs, p.OOMScoreAdj); err != nil {
		return err
	}
	if err := setAppArmor(procfs, p.ApparmorProfile); err != nil {
		return err
	}
	if err := setSELinuxLabel(procfs, p.SelinuxLabel, cfg.SELinux); err != nil {
		return err
	}
	exe, err := resolveExecutable(p)
	if err != nil {
		return err
	}
	debugf("exec: process %s resolved to %s, cwd %s, uid %d gid %d", p.Args[0], exe.path, p.Cwd, p.User.UID, p.User.GID)
	chdirLater, err := enterCwdPrivileged(p.Cwd)
	if err != nil {
		return err
	}
	early := filter != nil && !p.NoNewPrivileges
	if early {
		if err := loadSeccompEarly(filter); err != nil {
			return err
		}
		filter = nil
	}
	if _, _, err := setupCredentials(p, caps); err != nil {
		return err
	}
	if chdirLater {
		if err := enterCwd(p.Cwd); err != nil {
			return err
		}
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("process.noNewPrivileges: %w", err)
		}
	}
	if filter != nil && filter.notify {
		// The runtime must get the notify fd before the exec closes the
		// sync socket: load now, under no_new_privs.
		if err := loadSeccompEarly(filter); err != nil {
			return err
		}
		filter, early = nil, true
	}
	exe.procfs, exe.seccomp, exe.seccompLoaded, exe.rlimits = procfs, filter, early, p.Rlimits
	exe.preserved = cfg.PreserveFds
	debugf("exec: about to exec %s", exe.path)
	closeLog()
	return exe.exec()
}

// enterRoot makes fd, the container init's root, this process' root.
func enterRoot(fd int) error {
	defer unix.Close(fd)
	if err := unix.Fchdir(fd); err != nil {
		return fmt.Errorf("enter the container's root: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot to the container's root: %w", err)
	}
	return os.Chdir("/")
}

// verifyJoined checks that this process is in each namespace the runtime
// joined it to, read on a procfs of its own that the container cannot
// have covered. It fails closed without one.
func verifyJoined(procfs *os.File, joined map[string]libns.Identity) error {
	if len(joined) == 0 {
		return nil
	}
	if procfs == nil {
		return errors.New("verify joined namespaces: no private procfs")
	}
	for name, want := range joined {
		var st unix.Stat_t
		if err := unix.Fstatat(int(procfs.Fd()), "self/ns/"+name, &st, 0); err != nil {
			return fmt.Errorf("verify joined namespaces: stat %s: %w", name, err)
		}
		if (libns.Identity{Dev: st.Dev, Ino: st.Ino}) != want {
			return fmt.Errorf("verify joined namespaces: process is not in the %s namespace it joined", name)
		}
	}
	return nil
}
