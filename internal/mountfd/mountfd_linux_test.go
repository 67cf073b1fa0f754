package mountfd

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

func TestOpenPathResolve(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink(dir, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	fd, err := OpenPath(filepath.Join(dir, "link"), unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatalf("a plain symlink, allowed: %v", err)
	}
	unix.Close(fd)
	if _, err := OpenPath(filepath.Join(dir, "link"), 0, unix.RESOLVE_NO_SYMLINKS); !errors.Is(err, unix.ELOOP) {
		t.Fatalf("a symlink under RESOLVE_NO_SYMLINKS: %v, want ELOOP", err)
	}
	// Magic links are refused whatever the caller asks.
	if _, err := OpenPath("/proc/self/root/", 0, 0); !errors.Is(err, unix.ELOOP) {
		t.Fatalf("/proc/self/root: %v, want ELOOP", err)
	}
}

// TestMountIDs compares with what mountinfo says of "/".
func TestMountIDs(t *testing.T) {
	fd, err := OpenPath("/", unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	id, _, err := MountIDs(fd)
	if err != nil {
		t.Fatal(err)
	}
	mounts, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter("/"))
	if err != nil || len(mounts) == 0 {
		t.Fatalf("mountinfo: %v", err)
	}
	top := mounts[len(mounts)-1] // the one stacked last is the one seen
	if id != uint64(top.ID) {
		t.Fatalf("MountIDs(/) = %d, mountinfo says %d", id, top.ID)
	}
}
