package initproc

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseMountOptions(t *testing.T) {
	o := parseMountOptions("tmpfs", []string{"nosuid", "strictatime", "mode=755", "size=65536k", "rslave"})
	if o.flags != unix.MS_NOSUID|unix.MS_STRICTATIME || o.bind {
		t.Errorf("flags = %#x bind=%v", o.flags, o.bind)
	}
	if o.dataString() != "mode=755,size=65536k" {
		t.Errorf("data = %q", o.dataString())
	}
	if o.propagation != unix.MS_SLAVE|unix.MS_REC {
		t.Errorf("propagation = %#x", o.propagation)
	}

	b := parseMountOptions("none", []string{"rbind", "ro", "nodev"})
	if !b.bind || !b.recursive || b.attrSet != unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV {
		t.Errorf("rbind ro nodev: %+v", b)
	}
	rw := parseMountOptions("bind", []string{"ro", "rw"})
	if rw.attrSet&unix.MOUNT_ATTR_RDONLY != 0 || rw.attrClr&unix.MOUNT_ATTR_RDONLY == 0 || !rw.bind {
		t.Errorf("ro then rw must end read-write: %+v", rw)
	}
}

func TestRecursiveMountOptions(t *testing.T) {
	o := parseMountOptions("none", []string{"rbind", "ro", "rnosuid", "rro", "rrelatime"})
	if o.attrSet != unix.MOUNT_ATTR_RDONLY {
		t.Errorf("plain ro: attrSet %#x", o.attrSet)
	}
	if o.recAttrSet != unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_RELATIME || o.recAttrClr != unix.MOUNT_ATTR__ATIME {
		t.Errorf("recursive: set %#x clr %#x", o.recAttrSet, o.recAttrClr)
	}
	if len(o.data) != 0 {
		t.Errorf("recursive options passed on as data: %v", o.data)
	}
	rw := parseMountOptions("none", []string{"rbind", "rro", "rrw"})
	if rw.recAttrSet&unix.MOUNT_ATTR_RDONLY != 0 || rw.recAttrClr&unix.MOUNT_ATTR_RDONLY == 0 {
		t.Errorf("rro then rrw must end read-write: %+v", rw)
	}
}
