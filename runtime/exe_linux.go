package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// maxChildFds bounds the fds init or an exec'd process gets from rung
// apart from --preserve-fds: stdio, sync socket, fifo or pid pipe, log
// pipe, console, root, pid pipe, one per namespace kind joined, and one
// spare.
const maxChildFds = 3 + 2 + 1 + 1 + 1 + 1 + 8 + 1

// sealedExe returns an fd of rung's own binary on a private, detached,
// read-only bind mount. init is exec'd through it (/proc/self/fd/N), so
// /proc/<init>/exe leads to a mount that refuses writes: a container
// process cannot reopen it to overwrite the host binary (CVE-2019-5736).
// It costs one clone of a mount instead of a copy of the binary into a
// memfd on every start.
//
// preserved is the --preserve-fds count: the fd is put above every number
// the child's fds (at most maxChildFds plus those) and exec.Cmd's
// temporaries while it arranges them (as many again) may take.
func sealedExe(preserved int) (*os.File, error) {
	lowest := 2 * (maxChildFds + preserved)
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err == nil && uint64(lowest) >= lim.Cur {
		return nil, fmt.Errorf("RLIMIT_NOFILE %d is too low: rung needs fds up to %d", lim.Cur, lowest)
	}
	tree, err := unix.OpenTree(unix.AT_FDCWD, "/proc/self/exe", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if errors.Is(err, unix.EPERM) {
		// A rootless caller may not clone a mount: fall back to a sealed
		// copy, which protects a binary the caller owns just as well.
		return sealedCopy()
	}
	if err != nil {
		return nil, fmt.Errorf("clone rung binary mount: %w", err)
	}
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH, attr); err != nil {
		unix.Close(tree)
		return nil, fmt.Errorf("seal rung binary mount read-only: %w", err)
	}
	// Keep the fd clear of the numbers exec.Cmd assigns to ExtraFiles,
	// which would overwrite it in the child before execve reads it.
	high, err := unix.FcntlInt(uintptr(tree), unix.F_DUPFD_CLOEXEC, lowest)
	unix.Close(tree)
	if err != nil {
		return nil, fmt.Errorf("dup rung binary fd: %w", err)
	}
	return os.NewFile(uintptr(high), "rung-exe"), nil
}

// sealedCopy is rung's binary copied into a memfd sealed against every
// change (F_SEAL_WRITE and the rest), so the container cannot rewrite
// what /proc/<init>/exe points at (CVE-2019-5736).
func sealedCopy() (*os.File, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("open rung binary: %w", err)
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("rung", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("copy rung binary: memfd: %w", err)
	}
	mem := os.NewFile(uintptr(fd), "rung-exe")
	if _, err := io.Copy(mem, src); err != nil {
		mem.Close()
		return nil, fmt.Errorf("copy rung binary: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(mem.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		mem.Close()
		return nil, fmt.Errorf("seal rung binary copy: %w", err)
	}
	high, err := unix.FcntlInt(mem.Fd(), unix.F_DUPFD_CLOEXEC, 64)
	mem.Close()
	if err != nil {
		return nil, fmt.Errorf("dup rung binary fd: %w", err)
	}
	return os.NewFile(uintptr(high), "rung-exe"), nil
}
