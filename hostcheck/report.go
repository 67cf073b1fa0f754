package hostcheck

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/rungrt/rung/libns"
)

// State is a probe's answer.
type State string

// The answers. Unknown means the question was not asked (the caller cannot
// ask it) or the answer was not one the probe understands; a decision that
// depends on it fails closed.
const (
	Yes     State = "yes"
	No      State = "no"
	Unknown State = "unknown"
)

// Probe is one question asked of the host and its answer.
type Probe struct {
	State  State  `json:"state"`
	Reason string `json:"reason,omitempty"`
}

func yes() Probe                  { return Probe{State: Yes} }
func no(reason string) Probe      { return Probe{State: No, Reason: reason} }
func unknown(reason string) Probe { return Probe{State: Unknown, Reason: reason} }

// OK reports whether the answer is yes.
func (p Probe) OK() bool { return p.State == Yes }

// String is the state, with the reason in parentheses when there is one.
func (p Probe) String() string { return describe(p) }

func describe(p Probe) string {
	if p.Reason == "" {
		return string(p.State)
	}
	return string(p.State) + " (" + p.Reason + ")"
}

// Report is everything rung check found. Field names are part of rung's
// interface: see the package documentation.
type Report struct {
	Kernel       string   `json:"kernel"`
	Caller       Caller   `json:"caller"`
	Cgroup       Cgroup   `json:"cgroup"`
	Systemd      Systemd  `json:"systemd"`
	UserNS       UserNS   `json:"userNamespaces"`
	Seccomp      Seccomp  `json:"seccomp"`
	Syscalls     Syscalls `json:"syscalls"`
	Root         Access   `json:"root"`
	Unprivileged Access   `json:"unprivileged"`
	Notes        []string `json:"notes"`
}

// Caller is who ran the check.
type Caller struct {
	UID  int    `json:"uid"`
	Root bool   `json:"root"`
	User string `json:"user"`
}

// Access is what one kind of user can get: root, or an unprivileged user
// (the caller when it is not root, else the user named by Options).
type Access struct {
	User string `json:"user"`
	UID  int    `json:"uid"`
	// Namespaces maps each OCI namespace type to whether this user can
	// create it; an unprivileged user's are created inside a new user
	// namespace, the only way it can.
	Namespaces map[string]Probe `json:"namespaces"`
	Rungs      []RungVerdict    `json:"rungs"`
	// Highest is the highest rung possible ("none" at least), or "" when
	// not even none is possible or the answer is unknown.
	Highest string `json:"highest"`
}

// RungVerdict says whether one rung is possible, and if not, why.
type RungVerdict struct {
	Rung string `json:"rung"`
	Probe
}

// Cgroup is the host's cgroup layout as the caller's mount namespace shows it.
type Cgroup struct {
	// Mode is "unified" (cgroup2 only, at /sys/fs/cgroup), "hybrid" (v1
	// hierarchies with a cgroup2 mount beside them), "legacy" (v1 only)
	// or "none".
	Mode string          `json:"mode"`
	V2   *CgroupV2       `json:"v2"`
	V1   []CgroupV1Mount `json:"v1"`
}

// CgroupV2 is the cgroup2 hierarchy.
type CgroupV2 struct {
	Mountpoint string `json:"mountpoint"`
	// Controllers are those bound to the v2 hierarchy (root
	// cgroup.controllers); SubtreeControl those the root hands down to
	// its children.
	Controllers    []string `json:"controllers"`
	SubtreeControl []string `json:"subtreeControl"`
	// Own is the caller's cgroup and OwnControllers what is delegated to it.
	Own            string   `json:"own"`
	OwnControllers []string `json:"ownControllers"`
}

// CgroupV1Mount is one mounted v1 hierarchy.
type CgroupV1Mount struct {
	Mountpoint  string   `json:"mountpoint"`
	Controllers []string `json:"controllers"`
}

// Systemd says whether systemd can be reached, as its cgroup manager would
// reach it: over D-Bus.
type Systemd struct {
	Pid1      string `json:"pid1"`      // the command name of PID 1
	Booted    bool   `json:"booted"`    // /run/systemd/system exists (sd_booted(3))
	Reachable State  `json:"reachable"` // the system instance answered, on either bus
	SystemBus Bus    `json:"systemBus"`
	Private   Bus    `json:"private"`
	UserBus   Bus    `json:"userBus"`
}

// Bus is one attempt to talk to systemd.
type Bus struct {
	Address string `json:"address"`
	Probe
	Version string `json:"version,omitempty"`
}

// UserNS is what governs user namespaces beyond the probes in Access.
type UserNS struct {
	// The kernel knobs, null when this kernel has no such file.
	MaxUserNamespaces       *int64 `json:"maxUserNamespaces"`
	UnprivilegedUsernsClone *int64 `json:"unprivilegedUsernsClone"`
	AppArmorRestrict        *int64 `json:"apparmorRestrictUnprivilegedUserns"`
	// Limits maps each OCI namespace type to user.max_<kind>_namespaces.
	Limits         map[string]int64 `json:"limits"`
	SubordinateIDs SubordinateIDs   `json:"subordinateIds"`
}

// SubordinateIDs is the rootless multi-range setup of the unprivileged user.
type SubordinateIDs struct {
	User      string    `json:"user"`
	UIDs      []IDRange `json:"uids"`
	GIDs      []IDRange `json:"gids"`
	Newuidmap IDHelper  `json:"newuidmap"`
	Newgidmap IDHelper  `json:"newgidmap"`
	// MultiRange is whether that user can map more than its own ids.
	MultiRange Probe `json:"multiRange"`
}

// IDRange is one /etc/subuid or /etc/subgid entry.
type IDRange struct {
	Start uint64 `json:"start"`
	Count uint64 `json:"count"`
}

// IDHelper is newuidmap or newgidmap.
type IDHelper struct {
	Path string `json:"path"`
	// Privileged: setuid root or carrying file capabilities, as it must
	// be to write a map an unprivileged user could not.
	Privileged bool `json:"privileged"`
}

// Seccomp is the kernel's and libseccomp's seccomp support.
type Seccomp struct {
	Kernel        Probe    `json:"kernel"`
	Actions       []string `json:"actions"`
	UserNotif     Probe    `json:"userNotif"`
	Libseccomp    string   `json:"libseccomp"`
	LibseccompAPI uint     `json:"libseccompApi"`
}

// Syscalls are the newer system calls rung uses or could use.
type Syscalls struct {
	OpenTree        Probe `json:"openTree"`
	MoveMount       Probe `json:"moveMount"`
	MountSetattr    Probe `json:"mountSetattr"`
	Statmount       Probe `json:"statmount"`
	PidfdOpen       Probe `json:"pidfdOpen"`
	Clone3          Probe `json:"clone3"`
	CloneIntoCgroup Probe `json:"cloneIntoCgroup"`
}

// namedProbe is a probe with the name a reason gives it.
type namedProbe struct {
	name string
	p    Probe
}

// required are the system calls every container start needs: the sealed
// copy of the binary (open_tree, mount_setattr: Linux 5.12), the rootfs
// mounts (move_mount) and init's pidfd (pidfd_open: 5.3).
func (s Syscalls) required() []namedProbe {
	return []namedProbe{{"open_tree", s.OpenTree}, {"move_mount", s.MoveMount}, {"mount_setattr", s.MountSetattr}, {"pidfd_open", s.PidfdOpen}}
}

// Ladder decides, for each rung, whether a user whose namespace probes are
// ns can have it. viaUser says the probes were made inside a new user
// namespace (an unprivileged user's only way): then every rung above none
// needs the user namespace too. sys are the system calls rung itself needs
// for any container.
func Ladder(ns map[libns.Kind]Probe, viaUser bool, sys Syscalls) []RungVerdict {
	var needSys, unsureSys []string
	for _, r := range sys.required() {
		switch r.p.State {
		case Yes:
		case No:
			needSys = append(needSys, r.name+": "+describe(r.p))
		default:
			unsureSys = append(unsureSys, r.name+": "+describe(r.p))
		}
	}
	out := make([]RungVerdict, 0, 4)
	for r := libns.None; r <= libns.Quantum; r++ {
		v := RungVerdict{Rung: r.String()}
		set := r.Requires()
		if viaUser && r != libns.None {
			set = set.Add(libns.User)
			// Every other kind was probed inside a new user namespace:
			// when that fails, it is the one reason.
			if p, ok := ns[libns.User]; !ok || !p.OK() {
				set = libns.NewSet(libns.User)
			}
		}
		var missing, unsure reasons
		for _, k := range set.Kinds() {
			p, ok := ns[k]
			if !ok {
				p = unknown("not probed")
			}
			switch p.State {
			case Yes:
			case No:
				missing.add(k, p.Reason)
			default:
				unsure.add(k, p.Reason)
			}
		}
		why := append(missing.lines(), needSys...)
		unsureWhy := append(unsure.lines(), unsureSys...)
		switch {
		case len(why) > 0:
			v.Probe = no(strings.Join(why, "; "))
		case len(unsureWhy) > 0:
			v.Probe = unknown(strings.Join(unsureWhy, "; "))
		default:
			v.Probe = yes()
		}
		out = append(out, v)
	}
	return out
}

// reasons groups namespace kinds by the reason they are missing, so one
// reason shared by several kinds reads once.
type reasons struct {
	order []string
	kinds map[string][]string
}

func (r *reasons) add(k libns.Kind, why string) {
	if r.kinds == nil {
		r.kinds = map[string][]string{}
	}
	if _, ok := r.kinds[why]; !ok {
		r.order = append(r.order, why)
	}
	r.kinds[why] = append(r.kinds[why], k.String())
}

func (r *reasons) lines() []string {
	var out []string
	for _, why := range r.order {
		ks := r.kinds[why]
		noun := " namespace"
		if len(ks) > 1 {
			noun = " namespaces"
		}
		line := strings.Join(ks, ", ") + noun
		if why != "" {
			line += ": " + why
		}
		out = append(out, line)
	}
	return out
}

// highest is the highest rung in vs that is possible, provided every rung
// below it is too (they are subsets, so a hole means a broken probe).
func highest(vs []RungVerdict) string {
	h := ""
	for _, v := range vs {
		if !v.OK() {
			break
		}
		h = v.Rung
	}
	return h
}

// ErrNotPossible is wrapped by Require's error.
var ErrNotPossible = errors.New("not possible here")

// Require fails unless want is possible for the caller. Its error is one
// line naming the first thing missing.
func (r *Report) Require(want libns.Rung) error {
	a := r.Unprivileged
	if r.Caller.Root {
		a = r.Root
	}
	for _, v := range a.Rungs {
		if v.Rung != want.String() {
			continue
		}
		if v.OK() {
			return nil
		}
		return fmt.Errorf("rung %s is %w for %s: %s", want, ErrNotPossible, a.User, v.Reason)
	}
	return fmt.Errorf("rung %s is %w for %s: not assessed", want, ErrNotPossible, a.User)
}

// nsProbe reads the result of creating a namespace in a child that then
// execs the empty path: ENOENT is the exec failing, so the clone, and the
// namespace, succeeded; any other error is the clone's.
func nsProbe(err error) Probe {
	var errno syscall.Errno
	switch {
	case err == nil, errors.Is(err, syscall.ENOENT):
		return yes()
	case errors.As(err, &errno):
		switch errno {
		case syscall.EPERM:
			return no("operation not permitted")
		case syscall.ENOSPC:
			return no("no space left on device: a user.max_*_namespaces limit is 0 or reached")
		case syscall.EUSERS:
			return no("too many nested user namespaces")
		case syscall.EINVAL:
			return no("not supported by this kernel (EINVAL)")
		case syscall.ENOSYS:
			return no("not supported by this kernel (ENOSYS)")
		}
		return no(errno.Error())
	}
	return unknown(err.Error())
}

// syscallProbe reads the result of calling a system call with arguments
// it must reject without doing anything: any refusal of the arguments
// proves the kernel has it; ENOSYS that it does not. EPERM is ambiguous:
// some calls (move_mount) check CAP_SYS_ADMIN before their arguments, and
// a seccomp filter may answer EPERM for a call it blocks. Without a filter
// on the caller (filtered false) it can only be the capability check, so
// the kernel has the call.
func syscallProbe(err error, filtered bool) Probe {
	var errno syscall.Errno
	switch {
	case err == nil:
		return yes()
	case errors.As(err, &errno):
		switch errno {
		case syscall.EINVAL, syscall.EBADF, syscall.EFAULT, syscall.ENOENT, syscall.E2BIG:
			return yes()
		case syscall.ENOSYS:
			return no("not in this kernel (ENOSYS)")
		case syscall.EPERM, syscall.EACCES:
			if filtered {
				return unknown(errno.Error() + ": a seccomp filter on this process may block it")
			}
			return Probe{State: Yes, Reason: "in the kernel; this caller lacks CAP_SYS_ADMIN here"}
		}
		return unknown(errno.Error())
	}
	return unknown(err.Error())
}

// cgroupCloneProbe reads the result of a CLONE_INTO_CGROUP clone into the
// caller's own cgroup (see cloneProbe): a kernel before 5.7 refuses the
// flag (EINVAL); a caller that may not write its own cgroup.procs gets
// EACCES from a kernel that has it.
func cgroupCloneProbe(err error) Probe {
	switch {
	case err == nil, errors.Is(err, syscall.ENOENT):
		return yes()
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return Probe{State: Yes, Reason: "in the kernel; this caller may not move processes into its own cgroup"}
	case errors.Is(err, syscall.EINVAL), errors.Is(err, syscall.ENOSYS):
		return no("not in this kernel (" + err.Error() + ")")
	}
	return unknown(err.Error())
}

// seccompFiltered reads the Seccomp: line of /proc/self/status: 2 means
// a filter is installed.
func seccompFiltered(status string) bool {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, "Seccomp:"); ok {
			return strings.TrimSpace(v) == "2"
		}
	}
	return false
}

// cgroupMount is one line of mountinfo that mounts a cgroup filesystem.
type cgroupMount struct {
	Mountpoint string
	FSType     string // "cgroup" or "cgroup2"
	Options    string // super options: the v1 controllers, name=...
}

// classifyCgroups decides the cgroup mode from the caller's cgroup mounts.
// The first cgroup2 mount found is the v2 hierarchy (a bind mount of a
// subtree repeats it); v1 mounts are listed per hierarchy once.
func classifyCgroups(mounts []cgroupMount) (mode string, v2 string, v1 []CgroupV1Mount) {
	seen := map[string]bool{}
	unifiedAtTop := false
	for _, m := range mounts {
		switch m.FSType {
		case "cgroup2":
			if m.Mountpoint == "/sys/fs/cgroup" {
				unifiedAtTop = true
				v2 = m.Mountpoint
			} else if v2 == "" {
				v2 = m.Mountpoint
			}
		case "cgroup":
			ctrls := v1Controllers(m.Options)
			key := strings.Join(ctrls, ",")
			if seen[key] {
				continue
			}
			seen[key] = true
			v1 = append(v1, CgroupV1Mount{Mountpoint: m.Mountpoint, Controllers: ctrls})
		}
	}
	switch {
	case unifiedAtTop && len(v1) == 0:
		mode = "unified"
	case len(v1) > 0 && v2 != "":
		mode = "hybrid"
	case len(v1) > 0:
		mode = "legacy"
	case v2 != "":
		mode = "unified"
	default:
		mode = "none"
	}
	return mode, v2, v1
}

// v1Controllers picks the controllers (and the name= of a named
// hierarchy) out of a v1 mount's super options.
func v1Controllers(opts string) []string {
	out := []string{}
	for _, o := range strings.Split(opts, ",") {
		switch {
		case o == "", o == "rw", o == "ro", o == "noprefix", o == "xattr", o == "clone_children",
			o == "cpuset_v2_mode", o == "favordynmods", o == "none",
			strings.HasPrefix(o, "release_agent="):
		default:
			out = append(out, o)
		}
	}
	return out
}

// parseSubIDs reads /etc/subuid or /etc/subgid for user (by name or uid).
func parseSubIDs(data, user string, uid int) []IDRange {
	out := []IDRange{}
	for _, line := range strings.Split(data, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 3 || (f[0] != user && f[0] != fmt.Sprint(uid)) {
			continue
		}
		var r IDRange
		if _, err := fmt.Sscan(f[1], &r.Start); err != nil {
			continue
		}
		if _, err := fmt.Sscan(f[2], &r.Count); err != nil || r.Count == 0 {
			continue
		}
		out = append(out, r)
	}
	return out
}

// multiRange decides whether a user can map more than its own ids: it
// needs subordinate uids and gids and both helpers installed privileged.
func multiRange(s SubordinateIDs) Probe {
	var why []string
	if len(s.UIDs) == 0 {
		why = append(why, "no /etc/subuid entry for "+s.User)
	}
	if len(s.GIDs) == 0 {
		why = append(why, "no /etc/subgid entry for "+s.User)
	}
	for _, h := range []struct {
		name string
		h    IDHelper
	}{{"newuidmap", s.Newuidmap}, {"newgidmap", s.Newgidmap}} {
		switch {
		case h.h.Path == "":
			why = append(why, h.name+" not installed")
		case !h.h.Privileged:
			why = append(why, h.name+" is neither setuid root nor has file capabilities")
		}
	}
	if len(why) > 0 {
		return no(strings.Join(why, "; "))
	}
	return yes()
}

// fields splits a controllers file ("cpu io memory") into a list, never nil.
func fields(s string) []string {
	f := strings.Fields(s)
	if f == nil {
		f = []string{}
	}
	return f
}
