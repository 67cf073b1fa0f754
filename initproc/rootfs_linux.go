package initproc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/moby/sys/userns"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rungrt/rung/hostroot"
	"github.com/rungrt/rung/internal/mountfd"
	"github.com/rungrt/rung/internal/phase"
	"github.com/rungrt/rung/libns"
)

// setupRootfs builds the container's root filesystem and makes it "/".
// Every mount target is resolved inside the rootfs with filepath-securejoin
// and mounted through the resulting fd, so a symlink in the rootfs can never
// redirect a mount onto the host (CVE-2021-30465).
func setupRootfs(cfg *Config, ns libns.Set, beforePivot func() error) error {
	unix.Umask(0)
	// Without a mount namespace of its own the container inherits the
	// host's (runtime spec: an absent namespace type is inherited), so its
	// mounts are made there, and only inside the copy of the rootfs the
	// runtime stacked on it (every mount a slave; delete detaches it): the
	// design is package hostroot's.
	hostNS := !ns.Has(libns.Mount)
	if !hostNS {
		// Keep the host from seeing any mount made here;
		// rootfsPropagation is applied once the rootfs is "/".
		if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("make / rslave: %w", err)
		}
		// pivot_root needs the new root to be a mount point.
		if err := unix.Mount(cfg.Rootfs, cfg.Rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind rootfs %s: %w", cfg.Rootfs, err)
		}
	}
	phase.Mark("rootfs-bound")
	root, err := os.OpenFile(cfg.Rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open rootfs: %w", err)
	}
	defer root.Close()
	if hostNS {
		if err := hostroot.CheckRoot(root, cfg.HostRootMount); err != nil {
			return err
		}
	}
	if err := mountAll(root, cfg, ns, hostNS); err != nil {
		return err
	}
	phase.Mark("devices")
	if err := beforePivot(); err != nil {
		return err
	}
	phase.Mark("createContainer-hooks")
	if err := switchRoot(cfg, hostNS); err != nil {
		return err
	}
	phase.Mark("pivot_root")
	return finishRoot(cfg.Spec, hostNS)
}

// mountAll makes the config's mounts in the rootfs, then its devices and
// the process' working directory.
func mountAll(root *os.File, cfg *Config, ns libns.Set, hostNS bool) error {
	s := cfg.Spec
	if l := s.Linux.MountLabel; l != "" {
		if !cfg.SELinux {
			return fmt.Errorf("linux.mountLabel %q: SELinux is not enabled on the host: the label cannot be applied", l)
		}
		mountLabel = l
	}
	// Devices are bound, not made, in the container's user namespace, and
	// also when rung itself runs in one (rootless podman runs its runtime
	// as uid 0 of the user's namespace): mknod is refused to both.
	inUserNS := ns.Has(libns.User) || userns.RunningInUserNS()
	devMounted, devBind := false, false
	for _, m := range s.Mounts {
		if filepath.Clean(m.Destination) == "/dev" {
			devMounted, devBind = true, parseMountOptions(m.Type, m.Options).bind
		}
	}
	if !devMounted {
		// No /dev mount: the rootfs's own /dev gets the default devices;
		// checked before the mounts below it are made.
		if err := prepareRootfsDev(root); err != nil {
			return err
		}
	}
	for i, m := range s.Mounts {
		if err := mountEntry(root, cfg, i, m, hostNS); err != nil {
			return fmt.Errorf("mounts[%d] (%s on %s): %w", i, m.Type, m.Destination, err)
		}
	}
	phase.Mark("mounts")
	// A bound /dev tree (the host's, say) brings its own nodes: as with
	// runc nothing is added, which would write to the bind's source.
	if !devBind {
		if err := setupDev(root, s, inUserNS, hostNS); err != nil {
			return err
		}
	}
	cwd, err := pathrs.MkdirAllHandle(root, s.Process.Cwd, 0o755)
	if err != nil {
		return fmt.Errorf("process.cwd: create %s: %w", s.Process.Cwd, err)
	}
	cwd.Close()
	return nil
}

// switchRoot makes the rootfs the process' root: pivot_root, or the move
// of --no-pivot, or chroot where the mount namespace is the host's.
func switchRoot(cfg *Config, hostNS bool) error {
	switch {
	case hostNS:
		// pivot_root would swap the host's own root: chroot instead.
		err := unix.Chroot(cfg.Rootfs)
		if err == nil {
			err = os.Chdir("/")
		}
		if err != nil {
			return fmt.Errorf("chroot %s: %w", cfg.Rootfs, err)
		}
		return nil
	case cfg.NoPivot:
		return moveRoot(cfg.Rootfs)
	default:
		return pivotRoot(cfg.Rootfs)
	}
}

// finishRoot applies, in the new root, what the config says of it as a
// whole: propagation, masked and read-only paths, a read-only root.
func finishRoot(s *specs.Spec, hostNS bool) error {
	if p := s.Linux.RootfsPropagation; p != "" {
		flag, ok := propagationOpts[p]
		if !ok {
			return fmt.Errorf("linux.rootfsPropagation: unknown propagation %q", p)
		}
		if err := unix.Mount("", "/", "", flag, ""); err != nil {
			return fmt.Errorf("linux.rootfsPropagation %s: %w", p, err)
		}
	}
	for _, p := range s.Linux.MaskedPaths {
		if err := maskPath(p, hostNS); err != nil {
			return fmt.Errorf("linux.maskedPaths: %s: %w", p, err)
		}
	}
	for _, p := range s.Linux.ReadonlyPaths {
		if err := readonlyPath(p, hostNS); err != nil {
			return fmt.Errorf("linux.readonlyPaths: %s: %w", p, err)
		}
	}
	if s.Root.Readonly {
		if err := unix.MountSetattr(unix.AT_FDCWD, "/", 0, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}); err != nil {
			return fmt.Errorf("root.readonly: remount / read-only: %w", err)
		}
	}
	return nil
}

// mountLabel is linux.mountLabel where SELinux is on: the filesystems
// init mounts get it as their context, as runc labels them (proc, sysfs,
// cgroup and binds keep theirs; mqueue is labelled once mounted).
var mountLabel string

// labelled adds the context= option of mountLabel to mount data.
func labelled(data string) string {
	if mountLabel == "" {
		return data
	}
	opt := fmt.Sprintf("context=%q", mountLabel)
	if data == "" {
		return opt
	}
	return data + "," + opt
}

// labelMount sets mountLabel on the root of the filesystem just mounted
// at dest, for the filesystems (mqueue) that take no context= option.
func labelMount(root *os.File, dest string) error {
	if mountLabel == "" {
		return nil
	}
	h, err := pathrs.OpenatInRoot(root, dest)
	if err != nil {
		return fmt.Errorf("linux.mountLabel: open %s: %w", dest, err)
	}
	defer h.Close()
	f, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		return fmt.Errorf("linux.mountLabel: open %s: %w", dest, err)
	}
	defer f.Close()
	if err := unix.Fsetxattr(int(f.Fd()), "security.selinux", []byte(mountLabel), 0); err != nil {
		return fmt.Errorf("linux.mountLabel: label %s: %w", dest, err)
	}
	return nil
}

// fdPath names an fd through the host's /proc, which init still sees
// until pivot_root.
func fdPath(f *os.File) string { return fmt.Sprintf("/proc/self/fd/%d", f.Fd()) }

// mountEntry makes mounts[i]; with slave (the host's mount namespace)
// every bind copy it makes is a slave.
func mountEntry(root *os.File, cfg *Config, i int, m specs.Mount, slave bool) error {
	o := parseMountOptions(m.Type, m.Options)
	o.slave = slave
	if o.bind {
		srcFd, ok := cfg.bindFds[i]
		if !ok {
			srcFd = -1
		}
		return bindMountEntry(root, cfg.Bundle, m, o, srcFd)
	}
	target, err := pathrs.MkdirAllHandle(root, m.Destination, 0o755)
	if err != nil {
		return fmt.Errorf("create mount target: %w", err)
	}
	defer target.Close()
	switch m.Type {
	case "proc", "sysfs":
		// CVE-2019-19921, CVE-2023-27561: /proc or /sys mounted through a
		// symlink would put a writable kernel interface somewhere else.
		if err := requireNoSymlinks(cfg.Rootfs, target, m.Destination); err != nil {
			return err
		}
	case "cgroup":
		ownNS := slices.Contains(cfg.Namespaces, string(specs.CgroupNamespace)) || slices.Contains(cfg.Joined, string(specs.CgroupNamespace))
		return mountCgroup(root, target, m.Destination, o, ownNS)
	}
	if o.tmpcopyup {
		if m.Type != "tmpfs" {
			return fmt.Errorf("tmpcopyup: only for tmpfs mounts, not %s", m.Type)
		}
		return mountTmpcopyup(root, target, m, o)
	}
	if filepath.Clean(m.Destination) == "/dev" && o.flags&unix.MS_RDONLY != 0 {
		// A read-only /dev still gets its devices, symlinks, /dev/pts and
		// /dev/shm: mounted writable, made read-only once they are in
		// (finishDev), as runc does.
		o.flags &^= unix.MS_RDONLY
		devReadonly = true
	}
	data := o.dataString()
	switch m.Type {
	case "proc", "sysfs", "mqueue":
	default:
		data = labelled(data)
	}
	if err := unix.Mount(m.Source, fdPath(target), m.Type, o.flags, data); err != nil {
		return err
	}
	if m.Type == "mqueue" {
		if err := labelMount(root, m.Destination); err != nil {
			return err
		}
	}
	if o.recAttrSet != 0 || o.recAttrClr != 0 {
		if err := setattrAt(root, m.Destination, unix.AT_RECURSIVE, o.recAttrSet, o.recAttrClr); err != nil {
			return fmt.Errorf("recursive mount options: %w", err)
		}
	}
	return applyPropagation(root, m.Destination, o)
}

// devReadonly: the config's /dev tmpfs is read-only, and finishDev makes
// it so.
var devReadonly bool

// finishDev makes a read-only /dev read-only, its own mount only (not
// /dev/pts, /dev/shm below it), once init has put everything in it
// (devices, symlinks, the console). It runs after pivot_root.
func finishDev() error {
	if !devReadonly {
		return nil
	}
	fd, err := unix.Openat2(unix.AT_FDCWD, "/dev", &unix.OpenHow{
		Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS,
	})
	if err != nil {
		return fmt.Errorf("mounts: open /dev: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}); err != nil {
		return fmt.Errorf("mounts: make /dev read-only: %w", err)
	}
	return nil
}

// setattrAt applies mount attributes to the mount at dest (reopened: the
// old handle points under the new mount).
func setattrAt(root *os.File, dest string, flags int, set, clr uint64) error {
	target, err := pathrs.OpenatInRoot(root, dest)
	if err != nil {
		return err
	}
	defer target.Close()
	return unix.MountSetattr(int(target.Fd()), "", uint(flags|unix.AT_EMPTY_PATH), &unix.MountAttr{Attr_set: set, Attr_clr: clr})
}

// requireNoSymlinks checks that dest resolved to exactly rootfs+dest: no
// component of the path inside the rootfs was a symlink.
func requireNoSymlinks(rootfs string, target *os.File, dest string) error {
	got, err := os.Readlink(fdPath(target))
	if err != nil {
		return err
	}
	if want := filepath.Join(rootfs, dest); got != want {
		return fmt.Errorf("mount target %s resolves to %s: symlinks are not allowed here", dest, strings.TrimPrefix(got, rootfs))
	}
	return nil
}

func applyPropagation(root *os.File, dest string, o mountOptions) error {
	if o.propagation == 0 {
		return nil
	}
	// Reopen: the old handle points under the new mount, not at it.
	target, err := pathrs.OpenatInRoot(root, dest)
	if err != nil {
		return err
	}
	defer target.Close()
	if err := unix.Mount("", fdPath(target), "", o.propagation, ""); err != nil {
		return fmt.Errorf("set propagation: %w", err)
	}
	return nil
}

// bindMountEntry bind-mounts a host path (relative paths are relative to
// the bundle) entirely through fds: open_tree clones the source, the
// options are set on the detached copy with mount_setattr, and move_mount
// attaches it to the already-resolved target. No path is looked up twice.
func bindMountEntry(root *os.File, bundle string, m specs.Mount, o mountOptions, srcFd int) error {
	if srcFd < 0 {
		var err error
		if srcFd, err = unix.Open(BindSourcePath(bundle, m), unix.O_PATH|unix.O_CLOEXEC, 0); err != nil {
			return fmt.Errorf("open bind source %s: %w", BindSourcePath(bundle, m), err)
		}
	}
	defer unix.Close(srcFd)
	var st unix.Stat_t
	if err := unix.Fstat(srcFd, &st); err != nil {
		return err
	}
	target, err := mountTarget(root, m.Destination, st.Mode&unix.S_IFMT == unix.S_IFDIR)
	if err != nil {
		return err
	}
	defer target.Close()
	if err := bindTree(srcFd, int(target.Fd()), o); err != nil {
		return err
	}
	return applyPropagation(root, m.Destination, o)
}

// mountTarget resolves dest inside the rootfs, creating it as a directory
// or an empty file.
func mountTarget(root *os.File, dest string, dir bool) (*os.File, error) {
	if dir {
		t, err := pathrs.MkdirAllHandle(root, dest, 0o755)
		if err != nil {
			return nil, fmt.Errorf("create mount target: %w", err)
		}
		return t, nil
	}
	parent, err := pathrs.MkdirAllHandle(root, filepath.Dir(dest), 0o755)
	if err != nil {
		return nil, fmt.Errorf("create mount target's parent: %w", err)
	}
	defer parent.Close()
	fd, err := unix.Openat(int(parent.Fd()), filepath.Base(dest), unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_RDONLY|unix.O_CLOEXEC, 0o644)
	if err == nil {
		unix.Close(fd)
	} else if !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("create mount target: %w", err)
	}
	t, err := pathrs.OpenatInRoot(root, dest)
	if err != nil {
		return nil, fmt.Errorf("open mount target: %w", err)
	}
	return t, nil
}

// bindTree attaches a copy of the mount at srcFd (with its submounts when
// o.recursive) onto dstFd. The plain options (ro, nosuid, ...) change the
// copy's top mount only, as runc's bind remount does: an rbind,ro keeps
// its submounts' own flags. The recursive ones (rro, ...) change every
// mount of the copy. With o.slave the copy is made a slave first.
func bindTree(srcFd, dstFd int, o mountOptions) error {
	flags := unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC | unix.AT_EMPTY_PATH
	if o.recursive {
		flags |= unix.AT_RECURSIVE
	}
	tree, err := unix.OpenTree(srcFd, "", uint(flags))
	if err != nil {
		return fmt.Errorf("open_tree: %w", err)
	}
	defer unix.Close(tree)
	aflags := unix.AT_EMPTY_PATH
	if o.recursive {
		aflags |= unix.AT_RECURSIVE
	}
	if o.recAttrSet != 0 || o.recAttrClr != 0 {
		if err := unix.MountSetattr(tree, "", uint(aflags), &unix.MountAttr{Attr_set: o.recAttrSet, Attr_clr: o.recAttrClr}); err != nil {
			return fmt.Errorf("mount_setattr (recursive options): %w", err)
		}
	}
	if o.attrSet != 0 || o.attrClr != 0 {
		if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_set: o.attrSet, Attr_clr: o.attrClr}); err != nil {
			return fmt.Errorf("mount_setattr: %w", err)
		}
	}
	if o.slave {
		if err := mountfd.MakeSlave(tree, o.recursive); err != nil {
			return err
		}
	}
	if err := unix.MoveMount(tree, "", dstFd, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount: %w", err)
	}
	return nil
}

func pivotRoot(rootfs string) error {
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /: %w", err)
	}
	defer unix.Close(oldroot)
	newroot, err := unix.Open(rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open rootfs: %w", err)
	}
	defer unix.Close(newroot)
	if err := unix.Fchdir(newroot); err != nil {
		return err
	}
	// pivot_root(".", ".") stacks the old root on top of the new one, so
	// no directory for it is needed inside the rootfs.
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Fchdir(oldroot); err != nil {
		return err
	}
	// Make the old root a slave before detaching it, so the unmount does
	// not propagate to the host.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root rslave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	return os.Chdir("/")
}

// moveRoot is --no-pivot: leave no procfs or sysfs of the old root fully
// visible, then move the rootfs over / and chroot into it.
func moveRoot(rootfs string) error {
	if err := detachOutsideRoot(rootfs); err != nil {
		return err
	}
	if err := os.Chdir(rootfs); err != nil {
		return err
	}
	if err := unix.Mount(rootfs, "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move rootfs to /: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	return os.Chdir("/")
}

// openInRoot opens p, inside the container after pivot_root (no /proc
// magic link followed), for maskPath and readonlyPath: -1 and no error
// when p does not exist, which leaves nothing to mask.
func openInRoot(p string) (int, error) {
	fd, err := mountfd.OpenPath(p, 0, 0)
	if errors.Is(err, unix.ENOENT) {
		return -1, nil
	}
	if err != nil {
		return -1, err
	}
	return fd, nil
}

// maskPath hides p: a directory under an empty read-only tmpfs, anything
// else under /dev/null. slave: see mountEntry.
func maskPath(p string, slave bool) error {
	fd, err := openInRoot(p)
	if fd < 0 {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return mountEmptyTmpfs(fd)
	}
	null, err := openDevNull()
	if err != nil {
		return err
	}
	defer unix.Close(null)
	return bindTree(null, fd, mountOptions{slave: slave})
}

// openDevNull opens the container's /dev/null and proves it is the real
// null device: CVE-2025-31133 swapped it for a symlink to a host file,
// which masking then exposed read-write.
func openDevNull() (int, error) {
	fd, err := unix.Openat2(unix.AT_FDCWD, "/dev/null", &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC | unix.O_NOFOLLOW,
		Resolve: unix.RESOLVE_NO_SYMLINKS,
	})
	if err != nil {
		return -1, fmt.Errorf("open /dev/null: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		unix.Close(fd)
		return -1, errors.New("/dev/null is not the null device (char 1:3)")
	}
	return fd, nil
}

func mountEmptyTmpfs(target int) error {
	fsfd, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("fsopen tmpfs: %w", err)
	}
	defer unix.Close(fsfd)
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return fmt.Errorf("fsconfig tmpfs: %w", err)
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY)
	if err != nil {
		return fmt.Errorf("fsmount tmpfs: %w", err)
	}
	defer unix.Close(mfd)
	return unix.MoveMount(mfd, "", target, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
}

// readonlyPath bind-mounts p read-only over itself. slave: see mountEntry.
func readonlyPath(p string, slave bool) error {
	fd, err := openInRoot(p)
	if fd < 0 {
		return err
	}
	defer unix.Close(fd)
	return bindTree(fd, fd, mountOptions{recursive: true, attrSet: unix.MOUNT_ATTR_RDONLY, slave: slave})
}
