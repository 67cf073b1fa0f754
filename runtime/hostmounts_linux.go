package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// A container without a mount namespace of its own inherits the host's
// (runtime spec: an absent namespace type is inherited), so init makes its
// mounts there. They must neither reach the rest of the host while the
// container runs nor outlive it (crun leaves them on the host). So before
// init starts, the runtime stacks a copy of the rootfs on the rootfs, a
// slave of it, and init mounts only inside that copy; delete, a failed
// create and the removal of a killed create's leftovers detach that one
// copy, and with it everything below it, and nothing else: not the
// rootfs' own mount (an engine's overlay), not what was mounted below the
// rootfs before create.
const hostMountsFile = "host-mounts"

// hostRoot is what hostMountsFile records: where the copy is and its
// mount id.
type hostRoot struct {
	Rootfs string
	MntID  uint64
}

// attachHostRoot stacks a recursive copy of rootfs on rootfs, every mount
// of it a slave (it receives the host's mount events and sends none back:
// a mount made in it never appears elsewhere, and unmounting it never
// unmounts a host mount), and records it in dir first, so there is no
// moment when the copy is attached and not recorded. It returns the
// copy's mount id, which init checks before mounting.
func attachHostRoot(dir, rootfs string) (uint64, error) {
	real, err := filepath.EvalSymlinks(rootfs)
	if err != nil {
		return 0, fmt.Errorf("root.path: resolve %s: %w", rootfs, err)
	}
	tree, err := unix.OpenTree(unix.AT_FDCWD, real, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return 0, fmt.Errorf("root.path: copy %s: open_tree: %w", real, err)
	}
	// Closing a copy that was never attached unmounts it.
	defer unix.Close(tree)
	attr := &unix.MountAttr{Propagation: unix.MS_SLAVE}
	if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, attr); err != nil {
		return 0, fmt.Errorf("root.path: make the copy of %s a slave: %w", real, err)
	}
	id, err := mountID(tree)
	if err != nil {
		return 0, err
	}
	rec := real + "\n" + strconv.FormatUint(id, 10) + "\n"
	if err := writeFileAtomic(filepath.Join(dir, hostMountsFile), []byte(rec), 0o600); err != nil {
		return 0, err
	}
	if err := unix.MoveMount(tree, "", unix.AT_FDCWD, real, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return 0, fmt.Errorf("root.path: attach the copy of %s: move_mount: %w", real, err)
	}
	// Attached below a shared mount, the copy was made shared with the
	// copies the kernel propagated to the peers (attach_recursive_mnt):
	// a slave again, so what init mounts in it stays in it.
	if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, attr); err != nil {
		return 0, fmt.Errorf("root.path: make the copy of %s a slave: %w", real, err)
	}
	return id, nil
}

func readHostRoot(dir string) (*hostRoot, error) {
	data, err := os.ReadFile(filepath.Join(dir, hostMountsFile))
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 2 || !filepath.IsAbs(lines[0]) || filepath.Clean(lines[0]) == "/" {
		return nil, fmt.Errorf("%s: malformed record %q", hostMountsFile, data)
	}
	id, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%s: malformed mount id: %w", hostMountsFile, err)
	}
	return &hostRoot{Rootfs: lines[0], MntID: id}, nil
}

// unmountHostMounts detaches the copy of the rootfs recorded in dir, if
// one was recorded, with every mount below it.
func unmountHostMounts(dir string) error {
	hr, err := readHostRoot(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return hr.detach()
}

// detach unmounts the copy, and first whatever was stacked on it since
// (the container may mount on its own "/"). A mount is never unmounted by
// path: the rootfs is opened without following symlinks, and the mount
// the handle is on is detached only if it is the copy or stacked on it.
func (hr *hostRoot) detach() error {
	// Each pass detaches one mount; a bound keeps a kernel that does not
	// behave as expected from looping for ever.
	for range 64 {
		mounts, err := mountinfo.GetMounts(nil)
		if err != nil {
			return fmt.Errorf("read mountinfo: %w", err)
		}
		byID := make(map[uint64]*mountinfo.Info, len(mounts))
		for _, m := range mounts {
			byID[uint64(m.ID)] = m
		}
		if _, ok := byID[hr.MntID]; !ok {
			return nil // never attached, or already gone
		}
		fd, err := unix.Openat2(unix.AT_FDCWD, hr.Rootfs, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err != nil {
			return fmt.Errorf("open rootfs %s to unmount it: %w", hr.Rootfs, err)
		}
		top, err := mountID(fd)
		if err == nil && !stackedOn(byID, top, hr.MntID, hr.Rootfs) {
			err = fmt.Errorf("rootfs %s is now mount %d, not rung's copy %d or one stacked on it", hr.Rootfs, top, hr.MntID)
		}
		if err == nil {
			// Lazy: a process outside may still hold a file open in it;
			// the mounts leave the host's table now either way.
			err = unix.Unmount(fmt.Sprintf("/proc/self/fd/%d", fd), unix.MNT_DETACH)
		}
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("unmount the container's mounts on %s: %w", hr.Rootfs, err)
		}
	}
	return fmt.Errorf("unmount the container's mounts on %s: still mounted", hr.Rootfs)
}

// stackedOn reports whether mount id is base or was mounted, directly or
// through others, on the root of base at mountpoint.
func stackedOn(byID map[uint64]*mountinfo.Info, id, base uint64, mountpoint string) bool {
	for range len(byID) {
		if id == base {
			return true
		}
		m, ok := byID[id]
		if !ok || m.Mountpoint != mountpoint {
			return false
		}
		id = uint64(m.Parent)
	}
	return false
}

func mountID(fd int) (uint64, error) {
	var stx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID, &stx); err != nil {
		return 0, fmt.Errorf("statx mount id: %w", err)
	}
	if stx.Mask&unix.STATX_MNT_ID == 0 {
		return 0, errors.New("statx: the kernel gives no mount id")
	}
	return stx.Mnt_id, nil
}
