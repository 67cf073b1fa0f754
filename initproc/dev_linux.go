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

// setupDev fills a freshly mounted /dev: the default devices plus
// linux.devices, and the standard symlinks. All of it happens relative to
// a handle of the rootfs' /dev, so a /dev that is a symlink to a host
// directory cannot make rung create files on the host.
func setupDev(root *os.File, s *specs.Spec, userns bool) error {
	devs := append([]specs.LinuxDevice{}, defaultDevices...)
	if s.Linux != nil {
		devs = append(devs, s.Linux.Devices...)
	}
	if err := createDevices(root, devs, userns); err != nil {
		return err
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
		links = append(links, [2]string{"pts/ptmx", "ptmx"})
	}
	for _, l := range links {
		if err := unix.Symlinkat(l[0], int(dev.Fd()), l[1]); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("symlink /dev/%s: %w", l[1], err)
		}
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
// allowed, so the host's node is bind-mounted instead, as runc does.
func createDevices(root *os.File, devs []specs.LinuxDevice, userns bool) error {
	for _, d := range devs {
		if err := createDevice(root, d, userns); err != nil {
			return fmt.Errorf("linux.devices: %s: %w", d.Path, err)
		}
	}
	return nil
}

func createDevice(root *os.File, d specs.LinuxDevice, userns bool) error {
	if !filepath.IsAbs(d.Path) {
		return errors.New("path is not absolute")
	}
	if userns {
		src, err := unix.Open(d.Path, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open host device: %w", err)
		}
		defer unix.Close(src)
		target, err := mountTarget(root, d.Path, false)
		if err != nil {
			return err
		}
		defer target.Close()
		return bindFd(src, int(target.Fd()), false, 0, 0)
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
	if err := unix.Unlinkat(dirfd, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove existing file: %w", err)
	}
	if err := unix.Mknodat(dirfd, name, kind|mode, int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))); err != nil {
		return fmt.Errorf("mknod: %w", err)
	}
	uid, gid := 0, 0
	if d.UID != nil {
		uid = int(*d.UID)
	}
	if d.GID != nil {
		gid = int(*d.GID)
	}
	if err := unix.Fchownat(dirfd, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	return nil
}
