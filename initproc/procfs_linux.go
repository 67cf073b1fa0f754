package initproc

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// writeProc writes a file under the private procfs instance. The handle
// is a procfs init mounted itself, detached from every path, and the
// lookup refuses symlinks and mount crossings: no mount the container's
// rootfs stacks on /proc can redirect the write (CVE-2025-52881).
func writeProc(procfs *os.File, name, value string) error {
	if procfs == nil {
		return errors.New("no private procfs available")
	}
	fd, err := unix.Openat2(int(procfs.Fd()), name, &unix.OpenHow{
		Flags:   unix.O_WRONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_XDEV | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil || fs.Type != unix.PROC_SUPER_MAGIC {
		return fmt.Errorf("%s is not on procfs", name)
	}
	_, err = unix.Write(fd, []byte(value))
	return err
}

// selfProc names a file of this process in the private procfs by pid:
// writeProc follows no symlink, not even "self".
func selfProc(name string) string { return fmt.Sprintf("%d/%s", os.Getpid(), name) }
