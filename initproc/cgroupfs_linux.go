package initproc

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// mountCgroup serves a config mount of type "cgroup". On a pure cgroup v2
// host that is one cgroup2 mount. On a v1 or hybrid host it is a tmpfs
// holding one fresh mount per hierarchy the host has, named as on the
// host; inside a cgroup namespace each shows the container's own cgroup as
// its root. The tmpfs is made read-only last if the options ask for it.
func mountCgroup(root, target *os.File, dest string, o mountOptions) error {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		return fmt.Errorf("statfs /sys/fs/cgroup: %w", err)
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return unix.Mount("cgroup2", fdPath(target), "cgroup2", o.flags, "")
	}
	hier, err := mountinfo.GetMounts(func(m *mountinfo.Info) (skip, stop bool) {
		return !(m.FSType == "cgroup" || m.FSType == "cgroup2") || filepath.Dir(m.Mountpoint) != "/sys/fs/cgroup", false
	})
	if err != nil {
		return fmt.Errorf("read host cgroup mounts: %w", err)
	}
	base := o.flags &^ unix.MS_RDONLY
	if err := unix.Mount("tmpfs", fdPath(target), "tmpfs", base, "mode=755"); err != nil {
		return fmt.Errorf("mount cgroup tmpfs: %w", err)
	}
	// Reopen: target still names the directory under the new tmpfs.
	dir, err := pathrs.OpenatInRoot(root, dest)
	if err != nil {
		return err
	}
	defer dir.Close()
	for _, h := range hier {
		name := filepath.Base(h.Mountpoint)
		if err := unix.Mkdirat(int(dir.Fd()), name, 0o755); err != nil {
			return fmt.Errorf("mkdir cgroup %s: %w", name, err)
		}
		fd, err := unix.Openat(int(dir.Fd()), name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		sub := os.NewFile(uintptr(fd), name)
		data := ""
		if h.FSType == "cgroup" {
			data = cgroupV1Controllers(h.VFSOptions + "," + h.Options)
		}
		err = unix.Mount("cgroup", fdPath(sub), h.FSType, o.flags, data)
		sub.Close()
		if err != nil {
			return fmt.Errorf("mount cgroup hierarchy %s: %w", name, err)
		}
		// cpu,cpuacct style co-mounts get a link per controller, as on hosts.
		if strings.Contains(name, ",") {
			for _, part := range strings.Split(name, ",") {
				_ = unix.Symlinkat(name, int(dir.Fd()), part)
			}
		}
	}
	if o.flags&unix.MS_RDONLY != 0 {
		if err := unix.MountSetattr(int(dir.Fd()), "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}); err != nil {
			return fmt.Errorf("make cgroup tmpfs read-only: %w", err)
		}
	}
	return nil
}

// cgroupV1Controllers picks the hierarchy-defining options (controllers and
// name=) from a v1 mount's super options.
func cgroupV1Controllers(opts string) string {
	var out []string
	for _, o := range strings.Split(opts, ",") {
		switch {
		case o == "" || o == "rw" || o == "ro" || o == "relatime" || o == "noatime" ||
			o == "nosuid" || o == "nodev" || o == "noexec" || strings.HasPrefix(o, "release_agent="):
		default:
			out = append(out, o)
		}
	}
	return strings.Join(out, ",")
}
