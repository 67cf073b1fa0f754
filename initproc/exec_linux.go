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
// exec itself (the close-on-exec socket closes); failure is one Failed message.
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
	_ = Send(enc, Failed{Error: err.Error()})
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
	if err := setupTerminal("exec", p, cfg.ConsoleFd, false); err != nil {
		return err
	}
	exe, err := finishProcess(finishInput{
		role: "exec", process: p, procfs: procfs, caps: caps, filter: filter,
		selinux: cfg.SELinux, preserved: cfg.PreserveFds,
	})
	if err != nil {
		return err
	}
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
