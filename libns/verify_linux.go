package libns

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Identity names one namespace: nsfs device and inode, as stat(2) reports
// them on /proc/<pid>/ns/<kind>. Two processes share a namespace exactly
// when their identities are equal.
type Identity struct {
	Dev uint64
	Ino uint64
}

// IdentityOf reads the identity of pid's namespace of kind k; pid 0 means
// the calling process.
func IdentityOf(pid int, k Kind) (Identity, error) {
	p := "/proc/self/ns/" + k.ProcName()
	if pid != 0 {
		p = fmt.Sprintf("/proc/%d/ns/%s", pid, k.ProcName())
	}
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return Identity{}, fmt.Errorf("stat %s: %w", p, err)
	}
	return Identity{Dev: st.Dev, Ino: st.Ino}, nil
}

// IsOurs reports whether id is the runtime's own namespace of kind k: the
// one the calling process is in. It is the one answer to "does this
// container (or this namespace file) share the runtime's namespace?" that
// create, exec, verify and kill all ask.
func IsOurs(k Kind, id Identity) (bool, error) {
	ours, err := IdentityOf(0, k)
	if err != nil {
		return false, err
	}
	return id == ours, nil
}

// SharesOurs reports whether pid's namespace of kind k, as its container
// sees it (ContainerNSPath), is the runtime's own.
func SharesOurs(pid int, k Kind) (bool, error) {
	id, err := ContainerIdentity(pid, k)
	if err != nil {
		return false, err
	}
	return IsOurs(k, id)
}

// VerifyNew checks that every namespace in created is really new for pid:
// its identity differs from the caller's own. It fails closed: a namespace
// that cannot be read counts as not verified.
func VerifyNew(pid int, created Set) error {
	for _, k := range created.Kinds() {
		theirs, err := ContainerIdentity(pid, k)
		if err != nil {
			return fmt.Errorf("verify %s namespace: %w", k, err)
		}
		shared, err := IsOurs(k, theirs)
		if err != nil {
			return fmt.Errorf("verify %s namespace: %w", k, err)
		}
		if shared {
			return fmt.Errorf("verify %s namespace: container shares the runtime's namespace (inode %d)", k, theirs.Ino)
		}
	}
	return nil
}

// ContainerNSPath is the /proc file of pid's namespace of kind k as its
// container sees it: for the time namespace, which a process enters only
// on exec, time_for_children (the same once init has exec'd).
func ContainerNSPath(pid int, k Kind) string {
	name := k.ProcName()
	if k == Time {
		name = "time_for_children"
	}
	return fmt.Sprintf("/proc/%d/ns/%s", pid, name)
}

// ContainerIdentity is the identity of pid's namespace at ContainerNSPath.
func ContainerIdentity(pid int, k Kind) (Identity, error) {
	var st unix.Stat_t
	p := ContainerNSPath(pid, k)
	if err := unix.Stat(p, &st); err != nil {
		return Identity{}, fmt.Errorf("stat %s: %w", p, err)
	}
	return Identity{Dev: st.Dev, Ino: st.Ino}, nil
}

// FileIdentity is the identity of the namespace an open nsfs file names.
func FileIdentity(f *os.File) (Identity, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return Identity{}, err
	}
	return Identity{Dev: st.Dev, Ino: st.Ino}, nil
}
