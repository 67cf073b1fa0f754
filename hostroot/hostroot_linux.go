package hostroot

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unsafe"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/rungrt/rung/internal/mountfd"
	"github.com/rungrt/rung/internal/statefs"
)

// RecordFile, in a container's state directory, records its copy of the
// rootfs (Copy) while the copy may be on the host's mount table.
const RecordFile = "host-mounts"

// Copy is what RecordFile records: where the copy is and which mount it
// is. Mountinfo's ids are reused as soon as they are free: the
// never-reused id (Linux 6.8) tells the copy from a later mount that got
// its id; on older kernels the parent and the place do, less surely.
type Copy struct {
	Rootfs   string `json:"rootfs"`
	MntID    uint64 `json:"mntId"`
	ParentID uint64 `json:"parentId"`
	UniqueID uint64 `json:"uniqueId,omitempty"`
}

// Attach stacks a copy of rootfs on rootfs, every mount of it a
// slave (it receives the host's mount events and sends none back: a mount
// made in it never appears elsewhere, and unmounting it never unmounts a
// host mount), and records it in dir first, so there is no moment when the
// copy is attached and not recorded. It returns the copy's mount id,
// which init checks before mounting.
func Attach(dir, rootfs string) (_ uint64, err error) {
	real, err := filepath.EvalSymlinks(rootfs)
	if err != nil {
		return 0, fmt.Errorf("root.path: resolve %s: %w", rootfs, err)
	}
	if real == "/" {
		return 0, fmt.Errorf("root.path: %s is the host's /: without a mount namespace the container's mounts would cover the host's", rootfs)
	}
	// Held until the record is written, so two creates cannot both find
	// a rootfs free and stack their copies on each other. Host-wide, not
	// per --root: the mount table is the host's.
	reg, err := openHostRootRegistry()
	if err != nil {
		return 0, err
	}
	defer reg.Close()
	if err := refuseSharedRootfs(reg, real); err != nil {
		return 0, err
	}
	// One handle for every step, so the rootfs is looked up once.
	rootFd, err := openNoSymlinks(real, unix.O_DIRECTORY)
	if err != nil {
		return 0, fmt.Errorf("root.path: open %s: %w", real, err)
	}
	defer unix.Close(rootFd)
	// What is mounted below the rootfs already (an engine's volumes) is
	// copied into the copy after it is attached, not with it: attached
	// below a shared mount, a tree is copied to every peer of that mount
	// (attach_recursive_mnt), and a peer's copy that has children is
	// never unmounted by propagation at delete.
	subs, err := cloneSubmounts(real)
	defer func() {
		for _, s := range subs {
			unix.Close(s.tree) // closing a tree never attached unmounts it
		}
	}()
	if err != nil {
		return 0, err
	}
	tree, err := unix.OpenTree(rootFd, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	if err != nil {
		return 0, fmt.Errorf("root.path: copy %s: open_tree: %w", real, err)
	}
	defer unix.Close(tree)
	if err := mountfd.MakeSlave(tree, false); err != nil {
		return 0, fmt.Errorf("root.path: %w", err)
	}
	hr := &Copy{Rootfs: real}
	if hr.MntID, hr.UniqueID, err = mountfd.MountIDs(tree); err != nil {
		return 0, err
	}
	if hr.ParentID, _, err = mountfd.MountIDs(rootFd); err != nil {
		return 0, err
	}
	data, _ := json.Marshal(hr)
	record := filepath.Join(dir, RecordFile)
	if err := statefs.WriteFileAtomic(record, data, 0o600); err != nil {
		return 0, err
	}
	if err := register(reg, dir); err != nil {
		os.Remove(record)
		return 0, err
	}
	if err := unix.MoveMount(tree, "", rootFd, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		os.Remove(record)
		unregister(dir)
		return 0, fmt.Errorf("root.path: attach the copy of %s: move_mount: %w", real, err)
	}
	// Attached below a shared mount, the copy was made shared with the
	// copies the kernel propagated to the peers: a slave again, so what
	// is mounted in it from now on stays in it.
	if err := mountfd.MakeSlave(tree, false); err != nil {
		return 0, fmt.Errorf("root.path: %w", err)
	}
	dup, err := unix.FcntlInt(uintptr(tree), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("root.path: %w", err)
	}
	root := os.NewFile(uintptr(dup), real)
	defer root.Close()
	for _, s := range subs {
		target, err := pathrs.OpenatInRoot(root, s.rel)
		if err == nil {
			err = unix.MoveMount(s.tree, "", int(target.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
			target.Close()
		}
		if err != nil {
			return 0, fmt.Errorf("root.path: copy the mount on %s into the container's: %w", filepath.Join(real, s.rel), err)
		}
	}
	return hr.MntID, nil
}

type submount struct {
	rel  string // below the rootfs
	tree int    // detached recursive copy, every mount a slave
}

// cloneSubmounts copies each mount visible below rootfs (the top of a
// stack, with what is below it) into a detached tree of slaves.
func cloneSubmounts(rootfs string) ([]submount, error) {
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(rootfs))
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	var points []string
	for _, m := range mounts {
		if m.Mountpoint != rootfs && !slices.Contains(points, m.Mountpoint) {
			points = append(points, m.Mountpoint)
		}
	}
	slices.SortFunc(points, func(a, b string) int { return strings.Count(a, "/") - strings.Count(b, "/") })
	var subs []submount
	for _, p := range points {
		if slices.ContainsFunc(subs, func(s submount) bool { return strings.HasPrefix(p, filepath.Join(rootfs, s.rel)+"/") }) {
			continue // in the copy of a mount above it
		}
		fd, err := openNoSymlinks(p, 0)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EXDEV) {
			continue // hidden: the path leads elsewhere now
		}
		if err != nil {
			return subs, fmt.Errorf("root.path: open the mount on %s: %w", p, err)
		}
		var stx unix.Statx_t
		err = unix.Statx(fd, "", unix.AT_EMPTY_PATH, 0, &stx)
		if err != nil || stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT == 0 {
			unix.Close(fd) // hidden by a later mount above it
			if err != nil {
				return subs, fmt.Errorf("root.path: statx %s: %w", p, err)
			}
			continue
		}
		tree, err := unix.OpenTree(fd, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE|unix.AT_EMPTY_PATH)
		unix.Close(fd)
		if err != nil {
			return subs, fmt.Errorf("root.path: copy the mount on %s: open_tree: %w", p, err)
		}
		subs = append(subs, submount{rel: strings.TrimPrefix(p, rootfs+"/"), tree: tree})
		if err := mountfd.MakeSlave(tree, true); err != nil {
			return subs, fmt.Errorf("root.path: %w", err)
		}
	}
	return subs, nil
}

// hostRootRegistry lists, host-wide, the state directory of every
// container whose rootfs copy is on the host's mount table, whatever its
// --root: one symlink to the state directory each, named after it.
const hostRootRegistry = "/run/rung-hostroots"

// openHostRootRegistry opens the registry, made if missing, and takes its
// lock. It must be a directory of root's, not a symlink: a registry
// planted by someone else could hide a rootfs in use.
func openHostRootRegistry() (*os.File, error) {
	if err := os.Mkdir(hostRootRegistry, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("root.path: host rootfs registry: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(hostRootRegistry, &st); err != nil {
		return nil, fmt.Errorf("root.path: host rootfs registry: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || st.Uid != uint32(os.Geteuid()) || st.Mode&0o022 != 0 {
		return nil, fmt.Errorf("root.path: host rootfs registry %s is not a directory of uid %d writable only by it", hostRootRegistry, os.Geteuid())
	}
	f, err := statefs.Lock(hostRootRegistry, true)
	if err != nil {
		return nil, fmt.Errorf("root.path: lock the host rootfs registry: %w", err)
	}
	return f, nil
}

func registryEntry(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return filepath.Join(hostRootRegistry, hex.EncodeToString(sum[:16]))
}

func register(reg *os.File, dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	entry := registryEntry(dir)
	os.Remove(entry) // a stale entry of a state directory since removed
	if err := os.Symlink(dir, entry); err != nil {
		return fmt.Errorf("root.path: register in %s: %w", hostRootRegistry, err)
	}
	return nil
}

func unregister(dir string) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return
	}
	entry := registryEntry(dir)
	if target, err := os.Readlink(entry); err == nil && target == dir {
		os.Remove(entry)
	}
}

// refuseSharedRootfs refuses a rootfs that another container without a
// mount namespace, under any --root, has its copy on, or below or above
// it: a copy of it would hold that container's mounts, and deleting that
// container would take this one's with it. Entries whose copy is gone are
// removed.
func refuseSharedRootfs(reg *os.File, rootfs string) error {
	entries, err := reg.ReadDir(-1)
	if err != nil {
		return fmt.Errorf("root.path: read the host rootfs registry: %w", err)
	}
	for _, e := range entries {
		entry := filepath.Join(hostRootRegistry, e.Name())
		dir, err := os.Readlink(entry)
		if err != nil || !filepath.IsAbs(dir) {
			continue
		}
		hr, err := Read(dir)
		if errors.Is(err, os.ErrNotExist) {
			os.Remove(entry)
			continue
		}
		if err != nil {
			continue
		}
		mounted, err := hr.mounted()
		if err == nil && mounted == nil {
			os.Remove(entry)
			continue
		}
		if !(hr.Rootfs == rootfs || strings.HasPrefix(rootfs, hr.Rootfs+"/") || strings.HasPrefix(hr.Rootfs, rootfs+"/")) {
			continue
		}
		return fmt.Errorf("root.path: %s is on the rootfs of container %s (state %s), which shares the host's mount namespace too", rootfs, filepath.Base(dir), dir)
	}
	return nil
}

// Has reports whether dir records a copy of the rootfs: the container
// runs in the runtime's mount namespace.
func Has(dir string) (bool, error) {
	_, err := os.Lstat(filepath.Join(dir, RecordFile))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

// Read reads the copy recorded in dir; a record that is not one it could
// have written is an error naming RecordFile.
func Read(dir string) (*Copy, error) {
	data, err := os.ReadFile(filepath.Join(dir, RecordFile))
	if err != nil {
		return nil, err
	}
	var hr Copy
	if err := json.Unmarshal(data, &hr); err != nil {
		return nil, fmt.Errorf("%s: %w", RecordFile, err)
	}
	if !filepath.IsAbs(hr.Rootfs) || filepath.Clean(hr.Rootfs) == "/" || hr.MntID == 0 {
		return nil, fmt.Errorf("%s: malformed record %q", RecordFile, data)
	}
	return &hr, nil
}

// Detach detaches the copy of the rootfs recorded in dir, if one was
// recorded, with every mount below it.
func Detach(dir string) error {
	hr, err := Read(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := hr.detach(); err != nil {
		return err
	}
	unregister(dir)
	return nil
}

// mounted returns the mount table if the copy is still in it.
func (hr *Copy) mounted() (map[uint64]*mountinfo.Info, error) {
	if hr.UniqueID != 0 {
		old, ok, err := mountByUniqueID(hr.UniqueID)
		if err != nil || !ok {
			return nil, err
		}
		if old != hr.MntID {
			return nil, fmt.Errorf("rung's copy of the rootfs %s is mount %d, recorded as %d", hr.Rootfs, old, hr.MntID)
		}
	}
	mounts, err := mountinfo.GetMounts(nil)
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	byID := make(map[uint64]*mountinfo.Info, len(mounts))
	for _, m := range mounts {
		byID[uint64(m.ID)] = m
	}
	m, ok := byID[hr.MntID]
	if hr.UniqueID != 0 {
		if !ok || m.Mountpoint != hr.Rootfs {
			return nil, fmt.Errorf("rung's copy of the rootfs %s was moved", hr.Rootfs)
		}
		return byID, nil
	}
	// Without never-reused ids (before 6.8): the id in its place, on the
	// recorded parent or on a mount propagation slid in between since.
	if !ok || m.Mountpoint != hr.Rootfs || !stackedOn(byID, uint64(m.Parent), hr.ParentID, hr.Rootfs) {
		return nil, nil
	}
	return byID, nil
}

// statmountMntBasic asks statmount(2) (Linux 6.8) for the mount's ids.
const statmountMntBasic = 0x2

// mountByUniqueID returns the mountinfo id of the mount with the given
// never-reused id, and whether it is mounted in this mount namespace.
func mountByUniqueID(unique uint64) (uint64, bool, error) {
	req := struct {
		size, spare uint32
		mntID       uint64
		param       uint64
	}{size: unix.MNT_ID_REQ_SIZE_VER0, mntID: unique, param: statmountMntBasic}
	buf := make([]byte, 4096)
	_, _, errno := unix.Syscall6(unix.SYS_STATMOUNT, uintptr(unsafe.Pointer(&req)), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0, 0)
	if errno == unix.ENOENT {
		return 0, false, nil
	}
	if errno != 0 {
		return 0, false, fmt.Errorf("statmount %d: %w", unique, errno)
	}
	// struct statmount: mask at 8, mnt_id_old at 56.
	if binary.NativeEndian.Uint64(buf[8:])&statmountMntBasic == 0 {
		return 0, false, fmt.Errorf("statmount %d: no mount ids", unique)
	}
	return uint64(binary.NativeEndian.Uint32(buf[56:])), true, nil
}

// detach unmounts the copy, and first whatever was stacked on it since
// (the container may mount on its own "/"). A mount is never unmounted by
// path: the rootfs is opened without following symlinks, and the mount
// the handle is on is detached only if it is the copy or stacked on it.
func (hr *Copy) detach() error {
	// Each pass detaches one mount; a bound keeps a kernel that does not
	// behave as expected from looping for ever.
	for range 64 {
		byID, err := hr.mounted()
		if err != nil {
			return err
		}
		if byID == nil {
			return nil // never attached, or already gone
		}
		fd, err := openNoSymlinks(hr.Rootfs, unix.O_DIRECTORY)
		if err != nil {
			return fmt.Errorf("open rootfs %s to unmount it: %w", hr.Rootfs, err)
		}
		top, _, err := mountfd.MountIDs(fd)
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

// IsRootOf reports whether fd is the root of the copy, where init
// chroot'ed: what exec must find as the container's root.
func (hr *Copy) IsRootOf(fd int) (bool, error) {
	id, unique, err := mountfd.MountIDs(fd)
	if err != nil {
		return false, err
	}
	var stx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, 0, &stx); err != nil {
		return false, fmt.Errorf("statx: %w", err)
	}
	return id == hr.MntID && (hr.UniqueID == 0 || unique == hr.UniqueID) &&
		stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0, nil
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

// openNoSymlinks opens a host path, which no symlink may redirect: the
// rootfs and the mounts below it are named by the paths create resolved.
func openNoSymlinks(path string, flags uint64) (int, error) {
	return mountfd.OpenPath(path, flags, unix.RESOLVE_NO_SYMLINKS)
}

// CheckRoot makes sure that, in the host's mount namespace, init works on
// the runtime's copy of the rootfs (mount want, from Attach) and not on
// the host mount under it.
func CheckRoot(root *os.File, want uint64) error {
	if want == 0 {
		return errors.New("no copy of the rootfs to mount in: the runtime did not stack one")
	}
	id, _, err := mountfd.MountIDs(int(root.Fd()))
	if err != nil {
		return fmt.Errorf("rootfs: %w", err)
	}
	if id != want {
		return fmt.Errorf("rootfs is mount %d, not the runtime's copy %d", id, want)
	}
	return nil
}
