// Package statefs holds the two file primitives rung's on-disk state is
// built on: a file replaced whole or not at all (WriteFileAtomic), and a
// directory held by one rung at a time (Lock). The runtime keeps its state
// directories with them and hostroot its host-wide registry; it sits below
// both (and under internal/, as nothing outside rung has a use for it) so
// that runtime can import hostroot without an import cycle.
package statefs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ErrLocked is Lock's answer when it may not wait and another holds dir.
var ErrLocked = errors.New("directory is locked")

// WriteFileAtomic writes data to path through a temporary file in the
// same directory, renamed over path: a reader sees the old file or the new
// one, never part of one, as engines expect of --pid-file.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Lock takes an exclusive flock on dir, held until the returned file is
// closed; without wait it fails at once with ErrLocked if another holds it.
func Lock(dir string, wait bool) (*os.File, error) {
	f, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	how := unix.LOCK_EX
	if !wait {
		how |= unix.LOCK_NB
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("lock state directory: %w", err)
	}
	return f, nil
}
