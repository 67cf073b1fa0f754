package hostcheck

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"unsafe"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"github.com/rungrt/rung/libns"
)

// cloneProbe clones a child with flags (through clone3 when the flags or
// cgroupFD need it) that execs the empty path, which fails with ENOENT:
// the child exits at once, its namespaces go with it, and the error tells
// whether the clone itself worked (see nsProbe). cgroupFD < 0 means none.
func cloneProbe(flags uintptr, cgroupFD int) error {
	sys := &syscall.SysProcAttr{Cloneflags: flags}
	if cgroupFD >= 0 {
		sys.UseCgroupFD, sys.CgroupFD = true, cgroupFD
	}
	pid, err := syscall.ForkExec("", []string{""}, &syscall.ProcAttr{Sys: sys})
	if err == nil {
		// Not reachable (execve("") fails), but never leave a child.
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, 0, nil)
	}
	return err
}

// probeNamespaces creates each namespace kind in a throwaway child. With
// viaUser, each is created together with a new user namespace, which is
// how an unprivileged user can create any of them.
func probeNamespaces(viaUser bool) map[libns.Kind]Probe {
	out := make(map[libns.Kind]Probe, len(libns.AllKinds()))
	for _, k := range libns.AllKinds() {
		flags := k.CloneFlag()
		if viaUser {
			flags |= unix.CLONE_NEWUSER
		}
		out[k] = nsProbe(cloneProbe(flags, -1))
	}
	return out
}

// invalid is a flag bit no mount API call defines: every call below
// passes it, with a bad fd and a NULL path, so the kernel refuses the
// arguments (EINVAL) without touching anything, unless it lacks the call
// (ENOSYS) or a filter blocks it (EPERM).
const invalid = 1 << 31

func probeSyscalls(cgroup Cgroup) Syscalls {
	var s Syscalls
	status, _ := os.ReadFile("/proc/self/status")
	filtered := seccompFiltered(string(status))
	call := func(nr uintptr, a ...uintptr) Probe {
		args := make([]uintptr, 6)
		copy(args, a)
		r, _, e := unix.Syscall6(nr, args[0], args[1], args[2], args[3], args[4], args[5])
		if e == 0 {
			unix.Close(int(r)) // not reachable with these arguments
			return yes()
		}
		return syscallProbe(e, filtered)
	}
	const badFD = ^uintptr(0) // -1
	s.OpenTree = call(unix.SYS_OPEN_TREE, badFD, 0, invalid)
	s.MoveMount = call(unix.SYS_MOVE_MOUNT, badFD, 0, badFD, 0, invalid)
	s.MountSetattr = call(unix.SYS_MOUNT_SETATTR, badFD, 0, invalid, 0, 0)
	// statmount refuses any flags before reading its request.
	s.Statmount = call(unix.SYS_STATMOUNT, 0, 0, 0, 1)
	// clone3 refuses a size below its first version before anything else.
	s.Clone3 = call(unix.SYS_CLONE3, 0, 0)

	if fd, err := unix.PidfdOpen(os.Getpid(), 0); err == nil {
		unix.Close(fd)
		s.PidfdOpen = yes()
	} else {
		s.PidfdOpen = syscallProbe(err, filtered)
	}

	// CLONE_INTO_CGROUP (Linux 5.7) needs a cgroup2 directory: the
	// caller's own, so the child changes nothing.
	switch {
	case !s.Clone3.OK():
		s.CloneIntoCgroup = no("needs clone3")
	case cgroup.V2 == nil:
		s.CloneIntoCgroup = no("needs a cgroup2 hierarchy")
	default:
		dir := filepath.Join(cgroup.V2.Mountpoint, cgroup.V2.Own)
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			s.CloneIntoCgroup = unknown("open own cgroup " + dir + ": " + err.Error())
			break
		}
		s.CloneIntoCgroup = cgroupCloneProbe(cloneProbe(0, fd))
		unix.Close(fd)
	}
	return s
}

// seccompGetNotifSizes is SECCOMP_GET_NOTIF_SIZES (Linux 5.0).
const seccompGetNotifSizes = 3

func probeSeccomp() Seccomp {
	s := Seccomp{Actions: []string{}}
	if _, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0); err != nil {
		s.Kernel = no("prctl(PR_GET_SECCOMP): " + err.Error())
	} else {
		s.Kernel = yes()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/seccomp/actions_avail"); err == nil {
		s.Actions = fields(string(b))
	}
	var sizes [3]uint16
	_, _, e := unix.Syscall(unix.SYS_SECCOMP, seccompGetNotifSizes, 0, uintptr(unsafe.Pointer(&sizes)))
	switch {
	case e != 0:
		s.UserNotif = no("seccomp(SECCOMP_GET_NOTIF_SIZES): " + e.Error())
	case !slices.Contains(s.Actions, "user_notif"):
		s.UserNotif = no("user_notif not in actions_avail")
	default:
		s.UserNotif = yes()
	}
	maj, min, mic := libseccomp.GetLibraryVersion()
	s.Libseccomp = fmt.Sprintf("%d.%d.%d", maj, min, mic)
	s.LibseccompAPI, _ = libseccomp.GetAPI()
	return s
}

// probeUserNSKnobs reads the sysctls that decide who may create user
// namespaces: Debian's kernel.unprivileged_userns_clone, Ubuntu's
// AppArmor restriction, and the per-kind user.max_*_namespaces limits.
func probeUserNSKnobs() UserNS {
	u := UserNS{Limits: map[string]int64{}}
	u.MaxUserNamespaces = readInt("/proc/sys/user/max_user_namespaces")
	u.UnprivilegedUsernsClone = readInt("/proc/sys/kernel/unprivileged_userns_clone")
	u.AppArmorRestrict = readInt("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")
	for _, k := range libns.AllKinds() {
		if v := readInt("/proc/sys/user/max_" + k.ProcName() + "_namespaces"); v != nil {
			u.Limits[k.String()] = *v
		}
	}
	return u
}

// probeSubIDs reads the unprivileged user's subordinate ids and the
// helpers that map them.
func probeSubIDs(user string, uid int) SubordinateIDs {
	s := SubordinateIDs{User: user}
	subuid, _ := os.ReadFile("/etc/subuid")
	subgid, _ := os.ReadFile("/etc/subgid")
	s.UIDs = parseSubIDs(string(subuid), user, uid)
	s.GIDs = parseSubIDs(string(subgid), user, uid)
	s.Newuidmap = idHelper("newuidmap")
	s.Newgidmap = idHelper("newgidmap")
	s.MultiRange = multiRange(s)
	return s
}

func idHelper(name string) IDHelper {
	for _, dir := range []string{"/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"} {
		p := filepath.Join(dir, name)
		var st unix.Stat_t
		if unix.Stat(p, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			continue
		}
		h := IDHelper{Path: p}
		setuidRoot := st.Mode&unix.S_ISUID != 0 && st.Uid == 0
		_, err := unix.Getxattr(p, "security.capability", nil)
		h.Privileged = setuidRoot || err == nil
		return h
	}
	return IDHelper{}
}

func readInt(p string) *int64 {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	var v int64
	for _, c := range strings.TrimSpace(string(b)) {
		if c < '0' || c > '9' {
			return nil
		}
		v = v*10 + int64(c-'0')
	}
	return &v
}
