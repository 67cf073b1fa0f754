package runtime

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// openInMountNS opens each path with O_PATH in the mount namespace of
// pid (a just-cloned init, still at the copy of the host's root), as host
// root, through /proc/pid/root. A container with a user namespace needs
// it for its bind sources: init, root only in its namespace, cannot reach
// a source below a directory only host root may enter, which runc mounts
// all the same. Each fd names init's copy of the host mount, which the
// kernel locked (read-only, nosuid, ... stay as the host has them) when
// it copied the namespace for the less privileged user namespace; a clone
// made in the runtime's own namespace would carry no such locks.
func openInMountNS(pid int, paths []string) ([]*os.File, error) {
	var out []*os.File
	for _, p := range paths {
		fd, err := unix.Open(fmt.Sprintf("/proc/%d/root%s", pid, filepath.Clean(p)), unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			for _, f := range out {
				f.Close()
			}
			return nil, &os.PathError{Op: "open bind source", Path: p, Err: err}
		}
		out = append(out, os.NewFile(uintptr(fd), p))
	}
	return out, nil
}

// sendFds passes files over the sync socket, in one message.
func sendFds(sync *os.File, files []*os.File) error {
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	return unix.Sendmsg(int(sync.Fd()), []byte{'F'}, unix.UnixRights(fds...), nil, 0)
}
