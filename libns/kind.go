// Package libns knows the Linux namespace kinds rung works with: their OCI
// names, clone flags and /proc/<pid>/ns file names, how a set of them reads
// on the isolation ladder, and how to check on a live process that the
// namespaces it was promised are really the ones it has.
package libns

import (
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Kind is one namespace kind.
type Kind int

// The kinds, in the order the kernel documentation lists them; the order is
// also the order rung prints them in.
const (
	Mount Kind = iota
	PID
	Net
	IPC
	UTS
	User
	Cgroup
	Time
	numKinds
)

type kindInfo struct {
	oci       specs.LinuxNamespaceType
	procName  string // file name under /proc/<pid>/ns
	cloneFlag uintptr
}

var kinds = [numKinds]kindInfo{
	Mount:  {specs.MountNamespace, "mnt", unix.CLONE_NEWNS},
	PID:    {specs.PIDNamespace, "pid", unix.CLONE_NEWPID},
	Net:    {specs.NetworkNamespace, "net", unix.CLONE_NEWNET},
	IPC:    {specs.IPCNamespace, "ipc", unix.CLONE_NEWIPC},
	UTS:    {specs.UTSNamespace, "uts", unix.CLONE_NEWUTS},
	User:   {specs.UserNamespace, "user", unix.CLONE_NEWUSER},
	Cgroup: {specs.CgroupNamespace, "cgroup", unix.CLONE_NEWCGROUP},
	Time:   {specs.TimeNamespace, "time", unix.CLONE_NEWTIME},
}

// AllKinds lists every kind rung knows, in display order.
func AllKinds() []Kind {
	out := make([]Kind, 0, numKinds)
	for k := Kind(0); k < numKinds; k++ {
		out = append(out, k)
	}
	return out
}

// ParseKind maps an OCI namespace type ("mount", "network", ...) to a Kind.
func ParseKind(t specs.LinuxNamespaceType) (Kind, error) {
	for k, info := range kinds {
		if info.oci == t {
			return Kind(k), nil
		}
	}
	return 0, fmt.Errorf("unknown namespace type %q", t)
}

// String is the kind's OCI name.
func (k Kind) String() string {
	if k < 0 || k >= numKinds {
		return fmt.Sprintf("Kind(%d)", int(k))
	}
	return string(kinds[k].oci)
}

// OCI is the kind's runtime-spec type.
func (k Kind) OCI() specs.LinuxNamespaceType { return kinds[k].oci }

// ProcName is the file name under /proc/<pid>/ns.
func (k Kind) ProcName() string { return kinds[k].procName }

// CloneFlag is the CLONE_NEW* flag that creates the kind.
func (k Kind) CloneFlag() uintptr { return kinds[k].cloneFlag }

// Set is a set of kinds.
type Set uint16

// NewSet builds a set from kinds.
func NewSet(ks ...Kind) Set {
	var s Set
	for _, k := range ks {
		s |= 1 << k
	}
	return s
}

// Has reports whether k is in s.
func (s Set) Has(k Kind) bool { return s&(1<<k) != 0 }

// Add returns s with k added.
func (s Set) Add(k Kind) Set { return s | 1<<k }

// Minus returns the kinds of s that are not in o.
func (s Set) Minus(o Set) Set { return s &^ o }

// Kinds lists the members in display order.
func (s Set) Kinds() []Kind {
	var out []Kind
	for _, k := range AllKinds() {
		if s.Has(k) {
			out = append(out, k)
		}
	}
	return out
}

// Names lists the members' OCI names in display order.
func (s Set) Names() []string {
	out := []string{}
	for _, k := range s.Kinds() {
		out = append(out, k.String())
	}
	return out
}

// String joins the names with commas.
func (s Set) String() string { return strings.Join(s.Names(), ",") }

// CloneFlags is the clone(2) flag word that creates every kind in s.
func (s Set) CloneFlags() uintptr {
	var f uintptr
	for _, k := range s.Kinds() {
		f |= k.CloneFlag()
	}
	return f
}

// IsEmpty reports whether s has no kinds.
func (s Set) IsEmpty() bool { return s == 0 }
