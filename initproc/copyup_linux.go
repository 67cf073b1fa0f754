package initproc

import (
	"fmt"
	"io"
	"os"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// mountTmpcopyup mounts a tmpfs on target holding a copy of what the
// directory held before. The directory is opened before the mount covers
// it: the fd still reads the covered directory afterwards. Everything is
// read and written by fd without following symlinks, so content in the
// image cannot point the copy outside the rootfs.
func mountTmpcopyup(root, target *os.File, m specs.Mount, o mountOptions) error {
	below, err := unix.Openat(int(target.Fd()), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("tmpcopyup: open %s: %w", m.Destination, err)
	}
	defer unix.Close(below)
	if err := unix.Mount(m.Source, fdPath(target), "tmpfs", o.flags&^unix.MS_RDONLY, labelled(o.dataString())); err != nil {
		return err
	}
	top, err := pathrs.OpenatInRoot(root, m.Destination)
	if err != nil {
		return err
	}
	defer top.Close()
	topFd, err := unix.Openat(int(top.Fd()), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(topFd)
	if err := copyTree(below, topFd); err != nil {
		return fmt.Errorf("tmpcopyup %s: %w", m.Destination, err)
	}
	if o.flags&unix.MS_RDONLY != 0 {
		if err := unix.MountSetattr(int(top.Fd()), "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}); err != nil {
			return fmt.Errorf("tmpcopyup %s: make read-only: %w", m.Destination, err)
		}
	}
	return applyPropagation(root, m.Destination, o)
}

// copyTree copies the entries of directory src into directory dst,
// keeping modes and owners.
func copyTree(src, dst int) error {
	dup, err := unix.Dup(src)
	if err != nil {
		return err
	}
	d := os.NewFile(uintptr(dup), "src")
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		var st unix.Stat_t
		if err := unix.Fstatat(src, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		mode := st.Mode & 0o7777
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			if err := unix.Mkdirat(dst, name, 0o700); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if err := copyDir(src, dst, name); err != nil {
				return err
			}
		case unix.S_IFREG:
			if err := copyFileAt(src, dst, name); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		case unix.S_IFLNK:
			link, err := readlinkat(src, name)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if err := unix.Symlinkat(link, dst, name); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		default: // fifos, sockets, device nodes
			if err := unix.Mknodat(dst, name, st.Mode, int(st.Rdev)); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		if err := unix.Fchownat(dst, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			// After chown, which clears set-id bits.
			if err := unix.Fchmodat(dst, name, mode, 0); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	return nil
}

func copyDir(src, dst int, name string) error {
	s, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer unix.Close(s)
	d, err := unix.Openat(dst, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer unix.Close(d)
	return copyTree(s, d)
}

func copyFileAt(src, dst int, name string) error {
	s, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	in := os.NewFile(uintptr(s), name)
	defer in.Close()
	d, err := unix.Openat(dst, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	out := os.NewFile(uintptr(d), name)
	defer out.Close()
	_, err = io.Copy(out, in)
	return err
}

func readlinkat(dir int, name string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dir, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
