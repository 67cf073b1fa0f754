package libns

import (
	"fmt"

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

// VerifyNew checks that every namespace in created is really new for pid:
// its identity differs from the caller's own. It fails closed: a namespace
// that cannot be read counts as not verified.
func VerifyNew(pid int, created Set) error {
	for _, k := range created.Kinds() {
		theirs, err := identityForChildren(pid, k)
		if err != nil {
			return fmt.Errorf("verify %s namespace: %w", k, err)
		}
		ours, err := IdentityOf(0, k)
		if err != nil {
			return fmt.Errorf("verify %s namespace: %w", k, err)
		}
		if theirs == ours {
			return fmt.Errorf("verify %s namespace: container shares the runtime's namespace (inode %d)", k, ours.Ino)
		}
	}
	return nil
}

// identityForChildren is IdentityOf, except for the time namespace, which
// a process enters only on exec: before that its new one shows as
// time_for_children.
func identityForChildren(pid int, k Kind) (Identity, error) {
	if k != Time {
		return IdentityOf(pid, k)
	}
	var st unix.Stat_t
	p := fmt.Sprintf("/proc/%d/ns/time_for_children", pid)
	if err := unix.Stat(p, &st); err != nil {
		return Identity{}, fmt.Errorf("stat %s: %w", p, err)
	}
	return Identity{Dev: st.Dev, Ino: st.Ino}, nil
}
