package initproc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The devices every container gets, as the runtime spec lists them.
var defaultDevices = []specs.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0},
}

var devSymlinks = [][2]string{
	{"/proc/self/fd", "fd"},
	{"/proc/self/fd/0", "stdin"},
	{"/proc/self/fd/1", "stdout"},
	{"/proc/self/fd/2", "stderr"},
}

// setupDev fills /dev: the default devices plus linux.devices, and the
// standard symlinks. /dev is a fresh mount, or, where the config mounts
// nothing there, the rootfs's own directory, as runc does (the runtime
// spec: the runtime MUST supply the default devices). All of it happens
// relative to a handle of the rootfs' /dev, so a /dev that is a symlink to
// a host directory cannot make rung create files on the host; an entry
// already there is replaced or refused, never followed (replaceEntry).
func setupDev(root *os.File, s *specs.Spec, userns, slave bool) error {
	for _, d := range defaultDevices {
		if err := createDevice(root, d, userns, slave); err != nil {
			return fmt.Errorf("default device %s: %w", d.Path, err)
		}
	}
	if s.Linux != nil {
		if err := createDevices(root, s.Linux.Devices, userns, slave); err != nil {
			return err
		}
	}
	dev, err := pathrs.OpenatInRoot(root, "/dev")
	if err != nil {
		return fmt.Errorf("open /dev: %w", err)
	}
	defer dev.Close()
	links := devSymlinks
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links = append(links, [2]string{"/proc/kcore", "core"})
	}
	if hasMount(s, "/dev/pts") {
		// A ptmx node of the image's would open the host's devpts.
		links = append(links, [2]string{"pts/ptmx", "ptmx"})
	}
	for _, l := range links {
		if err := devSymlink(int(dev.Fd()), l[0], l[1]); err != nil {
			return fmt.Errorf("symlink /dev/%s: %w", l[1], err)
		}
	}
	return nil
}

// devSymlink makes /dev/name a symlink to target, keeping one that is
// already exactly that and replacing any other file there (removing a
// symlink never touches what it points to).
func devSymlink(dirfd int, target, name string) error {
	buf := make([]byte, len(target)+1)
	if n, err := unix.Readlinkat(dirfd, name, buf); err == nil && string(buf[:n]) == target {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return errors.New("a directory is in the way")
		}
		if err := unix.Unlinkat(dirfd, name, 0); err != nil {
			return fmt.Errorf("remove existing file: %w", err)
		}
	} else if !errors.Is(err, unix.ENOENT) {
		return err
	}
	return unix.Symlinkat(target, dirfd, name)
}

// prepareRootfsDev checks the rootfs's own /dev, used when the config
// mounts nothing on /dev: it must be a real directory of the rootfs (it is
// made when missing). A symlink is refused: it could only have been put
// there to lead the device setup elsewhere, a host directory say.
func prepareRootfsDev(root *os.File) error {
	var st unix.Stat_t
	err := unix.Fstatat(int(root.Fd()), "dev", &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case errors.Is(err, unix.ENOENT):
		if err := unix.Mkdirat(int(root.Fd()), "dev", 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("/dev: create in the rootfs: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("/dev: %w", err)
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return errors.New("/dev: is a symlink in the rootfs, and no /dev is mounted: refused, it is never followed")
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return errors.New("/dev: is not a directory in the rootfs")
	}
	return nil
}

func hasMount(s *specs.Spec, dest string) bool {
	for _, m := range s.Mounts {
		if filepath.Clean(m.Destination) == dest {
			return true
		}
	}
	return false
}

// createDevices makes each device node. In a user namespace mknod is not
// allowed, so the host's node is bind-mounted instead, as runc does (a
// slave copy with slave, see mountEntry).
func createDevices(root *os.File, devs []specs.LinuxDevice, userns, slave bool) error {
	for _, d := range devs {
		if err := createDevice(root, d, userns, slave); err != nil {
			return fmt.Errorf("linux.devices: %s: %w", d.Path, err)
		}
	}
	return nil
}

func createDevice(root *os.File, d specs.LinuxDevice, userns, slave bool) error {
	if !filepath.IsAbs(d.Path) {
		return errors.New("path is not absolute")
	}
	if userns {
		return bindDevice(root, d, slave)
	}
	var kind uint32
	switch d.Type {
	case "c", "u":
		kind = unix.S_IFCHR
	case "b":
		kind = unix.S_IFBLK
	case "p":
		kind = unix.S_IFIFO
	default:
		return fmt.Errorf("unknown device type %q", d.Type)
	}
	mode := uint32(0o666)
	if d.FileMode != nil {
		mode = uint32(*d.FileMode & 0o7777)
	}
	parent, err := pathrs.MkdirAllHandle(root, filepath.Dir(d.Path), 0o755)
	if err != nil {
		return err
	}
	defer parent.Close()
	name := filepath.Base(d.Path)
	dirfd := int(parent.Fd())
	uid, gid := 0, 0
	if d.UID != nil {
		uid = int(*d.UID)
	}
	if d.GID != nil {
		gid = int(*d.GID)
	}
	rdev := unix.Mkdev(uint32(d.Major), uint32(d.Minor))
	same := func(st *unix.Stat_t) bool {
		return st.Mode == kind|mode && st.Rdev == rdev && int(st.Uid) == uid && int(st.Gid) == gid
	}
	if kept, err := replaceEntry(dirfd, name, same); err != nil || kept {
		return err
	}
	if err := unix.Mknodat(dirfd, name, kind|mode, int(rdev)); err != nil {
		return fmt.Errorf("mknod: %w", err)
	}
	if err := unix.Fchownat(dirfd, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	return nil
}

// replaceEntry clears the way for a device node at dirfd/name: nothing
// there is fine; a node that keep accepts stays (kept); a symlink or a
// directory is refused; anything else is removed. A symlink is never
// followed: CVE-2025-31133 pointed /dev/null at a host file, which the
// runtime then wrote, chmod'ed or bind-mounted read-write. Removing the
// entry itself changes only the rootfs.
func replaceEntry(dirfd int, name string, keep func(*unix.Stat_t) bool) (kept bool, err error) {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); errors.Is(err, unix.ENOENT) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		return false, errors.New("is a symlink in the rootfs: refused, it is never followed")
	case unix.S_IFDIR:
		return false, errors.New("is a directory in the rootfs")
	}
	if keep != nil && keep(&st) {
		return true, nil
	}
	if err := unix.Unlinkat(dirfd, name, 0); err != nil {
		return false, fmt.Errorf("remove existing file: %w", err)
	}
	return false, nil
}

// bindDevice binds the host's node of d over a file made for it, replacing
// whatever the rootfs had there (see replaceEntry).
func bindDevice(root *os.File, d specs.LinuxDevice, slave bool) error {
	src, err := unix.Open(d.Path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open host device: %w", err)
	}
	defer unix.Close(src)
	parent, err := pathrs.MkdirAllHandle(root, filepath.Dir(d.Path), 0o755)
	if err != nil {
		return err
	}
	defer parent.Close()
	name, dirfd := filepath.Base(d.Path), int(parent.Fd())
	if _, err := replaceEntry(dirfd, name, nil); err != nil {
		return err
	}
	fd, err := unix.Openat(dirfd, name, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_RDONLY|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return fmt.Errorf("create mount target: %w", err)
	}
	unix.Close(fd)
	target, err := unix.Openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open mount target: %w", err)
	}
	defer unix.Close(target)
	return bindTree(src, target, mountOptions{slave: slave})
}
