package initproc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// This file mounts the config's cgroup filesystem inside the container (a
// mounts[] entry of type "cgroup"); it manages no cgroup. Making the
// container's cgroup, limits and freezing are the runtime's
// (runtime/cgroup_linux.go).

// mountCgroup serves a config mount of type "cgroup". On a pure cgroup v2
// host that is one cgroup2 mount. On a v1 or hybrid host it is a tmpfs
// holding one mount per hierarchy the host has, named as on the host.
// Inside its own cgroup namespace the container gets fresh mounts, whose
// root is its own cgroup. Without one, a fresh mount would show the
// host's whole hierarchy (every other cgroup, and the root's limits
// instead of its own), so each hierarchy is a bind mount of the
// container's own cgroup directory instead, as runc does. The tmpfs is
// made read-only last if the options ask for it.
func mountCgroup(root, target *os.File, dest string, o mountOptions, ownNS bool) error {
	var own map[string]string
	if !ownNS {
		var err error
		if own, err = ownCgroups(); err != nil {
			return err
		}
	}
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		return fmt.Errorf("statfs /sys/fs/cgroup: %w", err)
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		if !ownNS {
			return bindCgroupDir(filepath.Join("/sys/fs/cgroup", own[""]), target, o)
		}
		return mountCgroup2(root, target, dest, o)
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
		if ownNS {
			err = unix.Mount("cgroup", fdPath(sub), h.FSType, o.flags, data)
		} else {
			err = bindOwnCgroup(h, data, own, sub, o)
		}
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

// mountCgroup2 mounts the container's own cgroup2 (its cgroup namespace's
// view) on target. When target is itself the root of a cgroup2 mount, as
// under a rootless config's rbind of the host's /sys, the kernel refuses
// to stack a superblock on its own root (EBUSY, do_add_mount): a tmpfs
// goes in between, as crun does, and the cgroup2 mount on top of it.
func mountCgroup2(root, target *os.File, dest string, o mountOptions) error {
	err := unix.Mount("cgroup2", fdPath(target), "cgroup2", o.flags, "")
	if !errors.Is(err, unix.EBUSY) {
		return err
	}
	base := o.flags &^ unix.MS_RDONLY
	if err := unix.Mount("tmpfs", fdPath(target), "tmpfs", base, "mode=755,size=4k"); err != nil {
		return fmt.Errorf("mount a tmpfs under cgroup2: %w", err)
	}
	// Reopen: target still names the directory under the new tmpfs.
	dir, err := pathrs.OpenatInRoot(root, dest)
	if err != nil {
		return err
	}
	defer dir.Close()
	return unix.Mount("cgroup2", fdPath(dir), "cgroup2", o.flags, "")
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

// ownCgroups maps each hierarchy (its controllers as /proc/self/cgroup
// lists them, "" for cgroup2) to init's cgroup path in it. init is in
// the container's cgroup already.
func ownCgroups() (map[string]string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("read own cgroups: %w", err)
	}
	own := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 {
			own[parts[1]] = parts[2]
		}
	}
	return own, nil
}

// bindOwnCgroup bind-mounts the container's cgroup directory of host
// hierarchy h (controllers data) onto sub.
func bindOwnCgroup(h *mountinfo.Info, data string, own map[string]string, sub *os.File, o mountOptions) error {
	key := ""
	if h.FSType == "cgroup" {
		key = data
	}
	path, ok := own[key]
	if !ok && key != "" {
		// Matched by controllers: the mount's options may list them in
		// another order, and carry others (xattr, say).
		for k, v := range own {
			if k != "" && hasAll(key, k) {
				path, ok = v, true
			}
		}
	}
	if !ok {
		return fmt.Errorf("init is in no cgroup of hierarchy %s", h.Mountpoint)
	}
	// The mount's root may itself be a cgroup below the hierarchy's.
	rel, err := filepath.Rel(h.Root, path)
	if err != nil || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("cgroup %s is outside the host's mount of %s", path, h.Mountpoint)
	}
	return bindCgroupDir(filepath.Join(h.Mountpoint, rel), sub, o)
}

func bindCgroupDir(src string, target *os.File, o mountOptions) error {
	fd, err := unix.Open(src, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open own cgroup %s: %w", src, err)
	}
	defer unix.Close(fd)
	return bindTree(fd, int(target.Fd()), mountOptions{attrSet: o.attrSet, attrClr: o.attrClr, slave: o.slave})
}

// hasAll tells whether every comma-separated item of want is in opts.
func hasAll(opts, want string) bool {
	set := map[string]bool{}
	for _, x := range strings.Split(opts, ",") {
		set[x] = true
	}
	for _, x := range strings.Split(want, ",") {
		if !set[x] {
			return false
		}
	}
	return true
}
