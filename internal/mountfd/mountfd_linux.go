// Package mountfd holds the fd-based mount primitives both sides of rung
// use: opening a path as an O_PATH handle with a chosen resolve policy,
// making a detached mount copy (open_tree) a slave, and reading a mount's
// ids off a handle. Working on handles, not paths, is what keeps a path
// swapped between a check and a mount from redirecting the mount
// (CVE-2021-30465). hostroot builds the no-mount-namespace design on them
// and initproc its bind mounts; it is internal because nothing outside
// rung needs these three functions.
package mountfd

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// OpenPath opens path as an O_PATH|O_CLOEXEC handle (plus flags), resolved
// under resolve (unix.RESOLVE_*): RESOLVE_NO_MAGICLINKS at least, so no
// /proc magic link can lead out of the tree being looked up.
func OpenPath(path string, flags, resolve uint64) (int, error) {
	return unix.Openat2(unix.AT_FDCWD, path, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC | flags,
		Resolve: unix.RESOLVE_NO_MAGICLINKS | resolve,
	})
}

// MakeSlave makes the mount copy tree (and with recursive every mount of
// it) a slave: it receives its master's mount events and sends none back.
// A copy of a shared mount joins its peer group (the kernel's clone_mnt);
// as a slave, what is mounted in it stays in it, and unmounting it never
// unmounts a peer's mount.
func MakeSlave(tree int, recursive bool) error {
	flags := unix.AT_EMPTY_PATH
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	if err := unix.MountSetattr(tree, "", uint(flags), &unix.MountAttr{Propagation: unix.MS_SLAVE}); err != nil {
		return fmt.Errorf("make a mount copy a slave: %w", err)
	}
	return nil
}

// MountIDs returns the mount id of fd as mountinfo shows it and, where the
// kernel has it (6.8), the one never reused (else 0).
func MountIDs(fd int) (id, unique uint64, err error) {
	var stx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID, &stx); err != nil {
		return 0, 0, fmt.Errorf("statx mount id: %w", err)
	}
	if stx.Mask&unix.STATX_MNT_ID == 0 {
		return 0, 0, errors.New("statx: the kernel gives no mount id")
	}
	id = stx.Mnt_id
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID_UNIQUE, &stx); err == nil && stx.Mask&unix.STATX_MNT_ID_UNIQUE != 0 {
		unique = stx.Mnt_id
	}
	return id, unique, nil
}
