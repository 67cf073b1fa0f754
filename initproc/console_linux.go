package initproc

import (
	"errors"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// openPty opens a pty pair from the container's own devpts: the master
// through /dev/ptmx, the slave with TIOCGPTPEER straight from the master,
// so no path under /dev/pts is ever looked up (CVE-2025-52565).
func openPty() (master, slave *os.File, err error) {
	m, err := unix.Openat2(unix.AT_FDCWD, "/dev/pts/ptmx", &unix.OpenHow{
		Flags: unix.O_RDWR | unix.O_NOCTTY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/pts/ptmx: %w", err)
	}
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(m)
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	s, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(m), unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	if errno != 0 {
		unix.Close(m)
		return nil, nil, fmt.Errorf("open pty peer: %w", errno)
	}
	var fs unix.Statfs_t
	if err := unix.Fstatfs(int(s), &fs); err != nil || fs.Type != unix.DEVPTS_SUPER_MAGIC {
		unix.Close(m)
		unix.Close(int(s))
		return nil, nil, errors.New("pty peer is not on devpts")
	}
	return os.NewFile(uintptr(m), "/dev/ptmx"), os.NewFile(s, "pty-slave"), nil
}

// setupConsole gives the process a terminal: the pty slave becomes its
// stdio and controlling terminal and is bind-mounted (by fd) over
// /dev/console when mountConsole; the master goes to the engine over the
// console socket. The slave belongs to uid, the process' user, as with
// runc: init opened it as root, and a non-root process must own its
// terminal to use it fully (chmod it, mesg, a tty-checking login tool).
// Its group stays devpts' gid= (the tty group), as runc leaves it.
func setupConsole(socket *os.File, size *specs.Box, mountConsole bool, uid uint32) error {
	master, slave, err := openPty()
	if err != nil {
		return err
	}
	defer master.Close()
	defer slave.Close()
	if err := unix.Fchown(int(slave.Fd()), int(uid), -1); err != nil {
		return fmt.Errorf("give the pty to uid %d: %w", uid, err)
	}
	if size != nil {
		ws := &unix.Winsize{Row: uint16(size.Height), Col: uint16(size.Width)}
		if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws); err != nil {
			return fmt.Errorf("process.consoleSize: %w", err)
		}
	}
	if mountConsole {
		if err := mountOnDevConsole(slave); err != nil {
			return err
		}
	}
	oob := unix.UnixRights(int(master.Fd()))
	if err := unix.Sendmsg(int(socket.Fd()), []byte(master.Name()), oob, nil, 0); err != nil {
		return fmt.Errorf("send pty master over the console socket: %w", err)
	}
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	for fd := 0; fd <= 2; fd++ {
		if err := unix.Dup3(int(slave.Fd()), fd, 0); err != nil {
			return fmt.Errorf("dup pty to fd %d: %w", fd, err)
		}
	}
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("set controlling terminal: %w", err)
	}
	return nil
}

// mountOnDevConsole binds the pty slave over /dev/console. The target is
// created and opened without following symlinks, so a /dev/console that
// leads elsewhere cannot redirect the mount.
func mountOnDevConsole(slave *os.File) error {
	dev, err := unix.Openat2(unix.AT_FDCWD, "/dev", &unix.OpenHow{
		Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS,
	})
	if err != nil {
		return fmt.Errorf("open /dev: %w", err)
	}
	defer unix.Close(dev)
	fd, err := unix.Openat(dev, "console", unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_RDONLY|unix.O_CLOEXEC, 0o600)
	if err == nil {
		unix.Close(fd)
	} else if !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("create /dev/console: %w", err)
	}
	target, err := unix.Openat2(dev, "console", &unix.OpenHow{
		Flags: unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_BENEATH,
	})
	if err != nil {
		return fmt.Errorf("open /dev/console: %w", err)
	}
	defer unix.Close(target)
	var st unix.Stat_t
	if err := unix.Fstat(target, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return errors.New("/dev/console is a symlink")
	}
	// Only with a mount namespace of the container's own: no slave copy.
	return bindTree(int(slave.Fd()), target, mountOptions{})
}
