package initproc

import (
	"errors"
	"fmt"
	"os"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// detachOutsideRoot is the first half of --no-pivot. chroot leaves every
// mount of the old root in the container's mount namespace, only out of
// path reach. The kernel lets a user namespace mount procfs or sysfs only
// if a fully visible one is already in the caller's mount namespace
// (fs/namespace.c mount_too_revealing), reachable or not: a host /proc
// left there lets `unshare -mrpf; mount -t proc` in the container mount a
// fresh procfs with none of maskedPaths. So every mount that is neither
// the rootfs (with what is under it) nor one of the mounts it sits on is
// detached. Mounts the namespace locked (inherited from a more privileged
// one, as under a user namespace) cannot be: a procfs or sysfs among them
// is covered by an empty read-only tmpfs instead. A nested namespace
// inherits that cover locked, and a mount with a locked mount on its root
// is not fully visible (mnt_already_visible).
func detachOutsideRoot(rootfs string) error {
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, rootfs, 0, unix.STATX_MNT_ID, &stx); err != nil {
		return fmt.Errorf("statx %s: %w", rootfs, err)
	}
	if stx.Mask&unix.STATX_MNT_ID == 0 {
		return fmt.Errorf("statx %s: the kernel reports no mount id", rootfs)
	}
	rootID := int(stx.Mnt_id)
	t, err := readMountTable(rootID)
	if err != nil {
		return err
	}
	for _, m := range t.mounts {
		if m.ID == rootID || !t.chain[m.Parent] {
			continue
		}
		// Detaching takes the whole subtree on m with it. / is rslave
		// already, so nothing propagates to the host. A locked mount
		// (EINVAL), or one whose path a user namespace's root cannot
		// walk (EACCES), stays: the check below decides if that is safe.
		err := unix.Unmount(m.Mountpoint, unix.MNT_DETACH)
		if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EPERM) &&
			!errors.Is(err, unix.EACCES) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("--no-pivot: detach %s (%s) from the container's mount namespace: %w", m.Mountpoint, m.FSType, err)
		}
	}
	for pass := 0; ; pass++ {
		if t, err = readMountTable(rootID); err != nil {
			return err
		}
		exposed := t.fullyVisible()
		if len(exposed) == 0 {
			return nil
		}
		if pass > 0 {
			m := exposed[0]
			return fmt.Errorf("--no-pivot: a full %s is still mounted on %s outside the rootfs", m.FSType, m.Mountpoint)
		}
		for _, m := range exposed {
			if err := unix.Mount("tmpfs", m.Mountpoint, "tmpfs",
				unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=0,mode=000"); err != nil {
				return fmt.Errorf("--no-pivot: %s on %s cannot be detached (locked) nor covered: %w", m.FSType, m.Mountpoint, err)
			}
		}
	}
}

type mountTable struct {
	mounts []*mountinfo.Info
	byID   map[int]*mountinfo.Info
	chain  map[int]bool // the mounts the rootfs sits on
	rootID int
}

func readMountTable(rootID int) (*mountTable, error) {
	mounts, err := readMounts()
	if err != nil {
		return nil, err
	}
	t := &mountTable{mounts: mounts, byID: make(map[int]*mountinfo.Info, len(mounts)), chain: map[int]bool{}, rootID: rootID}
	for _, m := range mounts {
		t.byID[m.ID] = m
	}
	if t.byID[rootID] == nil {
		return nil, fmt.Errorf("--no-pivot: the rootfs mount %d is not in mountinfo", rootID)
	}
	for id := t.byID[rootID].Parent; t.byID[id] != nil && !t.chain[id] && id != rootID; id = t.byID[id].Parent {
		t.chain[id] = true
	}
	return t, nil
}

// inRootfs says whether m is the rootfs mount or under it.
func (t *mountTable) inRootfs(m *mountinfo.Info) bool {
	for n := 0; m != nil && n <= len(t.mounts); n++ {
		if m.ID == t.rootID {
			return true
		}
		if t.chain[m.ID] {
			return false
		}
		m = t.byID[m.Parent]
	}
	return false
}

// fullyVisible lists the procfs and sysfs mounts outside the rootfs that
// show their whole filesystem with nothing mounted on their root.
func (t *mountTable) fullyVisible() []*mountinfo.Info {
	covered := map[int]bool{}
	for _, m := range t.mounts {
		if p := t.byID[m.Parent]; p != nil && p.Mountpoint == m.Mountpoint && m.ID != p.ID {
			covered[p.ID] = true
		}
	}
	var out []*mountinfo.Info
	for _, m := range t.mounts {
		if (m.FSType == "proc" || m.FSType == "sysfs") && m.Root == "/" && !covered[m.ID] && !t.inRootfs(m) {
			out = append(out, m)
		}
	}
	return out
}

// readMounts reads this thread's mount table through a private procfs
// instance: init is in the container's pid namespace and the /proc it sees
// still belongs to the host's.
func readMounts() ([]*mountinfo.Info, error) {
	var fd int
	var err error
	if procfs := openPrivateProcfs(); procfs != nil {
		fd, err = unix.Openat(int(procfs.Fd()), "thread-self/mountinfo", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		procfs.Close()
	} else {
		// No private instance (the kernel refused one): the inherited
		// /proc, which may not know this pid namespace's threads.
		fd, err = unix.Open("/proc/self/mountinfo", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("--no-pivot: open mountinfo: %w", err)
	}
	f := os.NewFile(uintptr(fd), "mountinfo")
	defer f.Close()
	mounts, err := mountinfo.GetMountsFromReader(f, nil)
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	return mounts, nil
}
