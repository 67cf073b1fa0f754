package initproc

import (
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// OpenBindSources clones the source of every bind mount of s into a
// detached mount tree, in the runtime, as host root. A container with a
// user namespace needs it: its init, root only in that namespace, cannot
// reach a source below a directory only host root may enter (mode 700),
// which runc mounts all the same. The options are set on the copy here,
// where the runtime holds the privilege over it; init attaches it
// (attachBindTree). The result maps mount index to tree.
func OpenBindSources(s *specs.Spec, bundle string) (map[int]*os.File, error) {
	out := map[int]*os.File{}
	fail := func(err error) (map[int]*os.File, error) {
		for _, f := range out {
			f.Close()
		}
		return nil, err
	}
	for i, m := range s.Mounts {
		o := parseMountOptions(m.Type, m.Options)
		if !o.bind {
			continue
		}
		src := m.Source
		if !filepath.IsAbs(src) {
			src = filepath.Join(bundle, src)
		}
		flags := unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC
		aflags := 0
		if o.recursive {
			flags |= unix.AT_RECURSIVE
			aflags = unix.AT_RECURSIVE
		}
		tree, err := unix.OpenTree(unix.AT_FDCWD, src, uint(flags))
		if err != nil {
			return fail(fmt.Errorf("mounts[%d] (bind on %s): open bind source %s: %w", i, m.Destination, src, err))
		}
		f := os.NewFile(uintptr(tree), "bind-source")
		out[i] = f
		if o.recAttrSet != 0 || o.recAttrClr != 0 {
			if err := unix.MountSetattr(tree, "", uint(unix.AT_EMPTY_PATH|aflags), &unix.MountAttr{Attr_set: o.recAttrSet, Attr_clr: o.recAttrClr}); err != nil {
				return fail(fmt.Errorf("mounts[%d] (bind on %s): recursive options: %w", i, m.Destination, err))
			}
		}
		if o.attrSet != 0 || o.attrClr != 0 {
			if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_set: o.attrSet, Attr_clr: o.attrClr}); err != nil {
				return fail(fmt.Errorf("mounts[%d] (bind on %s): mount_setattr: %w", i, m.Destination, err))
			}
		}
	}
	return out, nil
}

// attachBindTree attaches a tree OpenBindSources made onto its
// destination in the rootfs.
func attachBindTree(root *os.File, tree int, m specs.Mount, o mountOptions) error {
	defer unix.Close(tree)
	var st unix.Stat_t
	if err := unix.Fstat(tree, &st); err != nil {
		return err
	}
	target, err := mountTarget(root, m.Destination, st.Mode&unix.S_IFMT == unix.S_IFDIR)
	if err != nil {
		return err
	}
	defer target.Close()
	if err := unix.MoveMount(tree, "", int(target.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount: %w", err)
	}
	return applyPropagation(root, m.Destination, o)
}
