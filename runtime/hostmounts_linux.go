package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// A container without a mount namespace of its own inherits the host's
// (runtime spec: an absent namespace type is inherited), so init makes its
// mounts there, on the rootfs. They must not outlive the container (crun
// leaves them on the host): the state directory records the rootfs before
// init starts, and delete, a failed create and the removal of a killed
// create's leftovers all unmount what is mounted below it.
const hostMountsFile = "host-mounts"

// recordHostMounts notes, in the state directory, that mounts will be made
// below rootfs in the host's mount namespace.
func recordHostMounts(dir, rootfs string) error {
	real, err := filepath.EvalSymlinks(rootfs)
	if err != nil {
		return fmt.Errorf("resolve rootfs: %w", err)
	}
	return writeFileAtomic(filepath.Join(dir, hostMountsFile), []byte(real), 0o600)
}

// unmountHostMounts removes the mounts below the rootfs recorded in dir,
// if any were recorded.
func unmountHostMounts(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, hostMountsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", hostMountsFile, err)
	}
	return unmountBelow(string(data))
}

// unmountBelow detaches every mount strictly below rootfs, never rootfs
// itself (an engine's overlay is mounted there) nor anything outside it.
// The container may have rewritten its rootfs (a directory swapped for a
// symlink to a host path), so a mount point from mountinfo is never
// unmounted by path: it is opened inside rootfs, and only if the handle is
// on that very mount is it detached, through the handle.
func unmountBelow(rootfs string) error {
	if !filepath.IsAbs(rootfs) || filepath.Clean(rootfs) == "/" {
		return fmt.Errorf("refusing to unmount below %q", rootfs)
	}
	below := func(m *mountinfo.Info) (bool, bool) {
		return !strings.HasPrefix(m.Mountpoint, rootfs+"/"), false
	}
	mounts, err := mountinfo.GetMounts(below)
	if err != nil {
		return fmt.Errorf("read mountinfo: %w", err)
	}
	// Children before parents, the later of stacked mounts first.
	slices.Reverse(mounts)
	slices.SortStableFunc(mounts, func(a, b *mountinfo.Info) int {
		return strings.Count(b.Mountpoint, "/") - strings.Count(a.Mountpoint, "/")
	})
	for _, m := range mounts {
		_ = detachMount(rootfs, m)
	}
	left, err := mountinfo.GetMounts(below)
	if err != nil {
		return fmt.Errorf("read mountinfo: %w", err)
	}
	if len(left) > 0 {
		var paths []string
		for _, m := range left {
			paths = append(paths, m.Mountpoint)
		}
		return fmt.Errorf("mounts left below the rootfs: %s", strings.Join(paths, ", "))
	}
	return nil
}

func detachMount(rootfs string, m *mountinfo.Info) error {
	f, err := pathrs.OpenInRoot(rootfs, strings.TrimPrefix(m.Mountpoint, rootfs))
	if err != nil {
		return err
	}
	defer f.Close()
	var stx unix.Statx_t
	if err := unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID, &stx); err != nil {
		return err
	}
	if stx.Mnt_id != uint64(m.ID) {
		return fmt.Errorf("%s no longer leads to mount %d", m.Mountpoint, m.ID)
	}
	// Lazy: the container is gone, but a process outside may hold a file
	// open; the mount leaves the host's table now either way.
	return unix.Unmount(fmt.Sprintf("/proc/self/fd/%d", f.Fd()), unix.MNT_DETACH)
}
