package runtime

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// sealedExe returns an fd of rung's own binary on a private, detached,
// read-only bind mount. init is exec'd through it (/proc/self/fd/N), so
// /proc/<init>/exe leads to a mount that refuses writes: a container
// process cannot reopen it to overwrite the host binary (CVE-2019-5736).
// It costs one clone of a mount instead of a copy of the binary into a
// memfd on every start.
func sealedExe() (*os.File, error) {
	tree, err := unix.OpenTree(unix.AT_FDCWD, "/proc/self/exe", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
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
	high, err := unix.FcntlInt(uintptr(tree), unix.F_DUPFD_CLOEXEC, 64)
	unix.Close(tree)
	if err != nil {
		return nil, fmt.Errorf("dup rung binary fd: %w", err)
	}
	return os.NewFile(uintptr(high), "rung-exe"), nil
}
