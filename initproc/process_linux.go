package initproc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"unsafe"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rungrt/rung/libns"
	"github.com/rungrt/rung/spec"
)

func setupUTS(cfg *Config, ns libns.Set) error {
	s := cfg.Spec
	// spec.Validate asks for a uts namespace in the config; ns says whether
	// it really is the container's (one joined by a path naming the
	// host's is not), so the host's names are never set.
	if (s.Hostname != "" || s.Domainname != "") && !ns.Has(libns.UTS) {
		return errors.New("hostname: the container's uts namespace is the host's")
	}
	if s.Hostname != "" {
		if err := unix.Sethostname([]byte(s.Hostname)); err != nil {
			return fmt.Errorf("hostname: %w", err)
		}
	}
	if s.Domainname != "" {
		if err := unix.Setdomainname([]byte(s.Domainname)); err != nil {
			return fmt.Errorf("domainname: %w", err)
		}
	}
	return nil
}

// setRlimits uses syscall.Setrlimit, not prlimit: the Go runtime raises
// its own RLIMIT_NOFILE at start and puts the old value back on exec
// unless told through syscall.Setrlimit that the limit is now deliberate.
func setRlimits(limits []specs.POSIXRlimit) error {
	for _, rl := range limits {
		res, ok := spec.RlimitResource(rl.Type)
		if !ok {
			return fmt.Errorf("process.rlimits: unknown rlimit %q", rl.Type)
		}
		if err := syscall.Setrlimit(res, &syscall.Rlimit{Cur: rl.Soft, Max: rl.Hard}); err != nil {
			return fmt.Errorf("process.rlimits: setrlimit %s (soft %d, hard %d): %w", rl.Type, rl.Soft, rl.Hard, err)
		}
	}
	return nil
}

// checkRlimits refuses, at create, limits that setrlimit would refuse just
// before exec: a hard limit above the current one needs CAP_SYS_RESOURCE.
func checkRlimits(limits []specs.POSIXRlimit, caps capability.Capabilities) error {
	if caps.Get(capability.EFFECTIVE, capability.CAP_SYS_RESOURCE) {
		return nil
	}
	for _, rl := range limits {
		res, ok := spec.RlimitResource(rl.Type)
		if !ok {
			return fmt.Errorf("process.rlimits: unknown rlimit %q", rl.Type)
		}
		var cur syscall.Rlimit
		if err := syscall.Getrlimit(res, &cur); err != nil {
			return fmt.Errorf("process.rlimits: getrlimit %s: %w", rl.Type, err)
		}
		if rl.Hard > cur.Max {
			return fmt.Errorf("process.rlimits: setrlimit %s (soft %d, hard %d): raising the hard limit above %d: %w", rl.Type, rl.Soft, rl.Hard, cur.Max, unix.EPERM)
		}
	}
	return nil
}

// resolveExecutable finds process.args[0] with the container's PATH, the
// way exec.LookPath does, so the error texts are the ones engines match
// on (`executable file not found in $PATH`, `no such file or directory`).
func resolveExecutable(p *specs.Process) (*execution, error) {
	path := ""
	for _, e := range p.Env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	if err := os.Setenv("PATH", path); err != nil {
		return nil, err
	}
	name, err := exec.LookPath(p.Args[0])
	if err != nil {
		return nil, err
	}
	return &execution{path: name, args: p.Args, env: p.Env}, nil
}

// loadCapabilities reads this thread's capability state from the kernel:
// capget(2) for the effective, permitted and inheritable sets, prctl(2)
// for the bounding and ambient ones. The library's Load reads the last two
// from /proc/self/status, which for `rung exec` is the container's /proc:
// absent (exec failed) or the container's to fake.
func loadCapabilities() (capability.Capabilities, error) {
	caps, err := capability.NewPid2(0)
	if err != nil {
		return nil, fmt.Errorf("read capabilities: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return nil, fmt.Errorf("read capabilities: capget: %w", err)
	}
	last, err := capability.LastCap()
	if err != nil {
		return nil, fmt.Errorf("read capabilities: %w", err)
	}
	in := func(mask [2]uint32, c capability.Cap) bool { return mask[c/32]&(1<<(c%32)) != 0 }
	for c := capability.Cap(0); c <= last; c++ {
		for _, set := range []struct {
			which capability.CapType
			mask  [2]uint32
		}{
			{capability.EFFECTIVE, [2]uint32{data[0].Effective, data[1].Effective}},
			{capability.PERMITTED, [2]uint32{data[0].Permitted, data[1].Permitted}},
			{capability.INHERITABLE, [2]uint32{data[0].Inheritable, data[1].Inheritable}},
		} {
			if in(set.mask, c) {
				caps.Set(set.which, c)
			}
		}
		if r, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); err != nil {
			return nil, fmt.Errorf("read bounding capability %s: %w", c, err)
		} else if r == 1 {
			caps.Set(capability.BOUNDING, c)
		}
		if r, err := unix.PrctlRetInt(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_IS_SET, uintptr(c), 0, 0); err == nil && r == 1 {
			caps.Set(capability.AMBIENT, c)
		}
	}
	return caps, nil
}

// setupCredentials switches to process.user and sets the capability sets.
// All of it happens on the locked main thread, which is the one that execs.
func setupCredentials(p *specs.Process, caps capability.Capabilities) (warnings, notes []string, err error) {
	umask := uint32(0o022)
	if p.User.Umask != nil {
		umask = *p.User.Umask
	}
	unix.Umask(int(umask))

	want := p.Capabilities
	if want == nil {
		// No capabilities field: the container gets none, rather than the
		// runtime's full set.
		want = &specs.LinuxCapabilities{}
	}
	sets := map[capability.CapType][]capability.Cap{}
	for _, f := range []struct {
		which capability.CapType
		field string
		names []string
	}{
		{capability.BOUNDING, "bounding", want.Bounding},
		{capability.EFFECTIVE, "effective", want.Effective},
		{capability.PERMITTED, "permitted", want.Permitted},
		{capability.INHERITABLE, "inheritable", want.Inheritable},
		{capability.AMBIENT, "ambient", want.Ambient},
	} {
		list, unknown := parseCaps(f.names)
		for _, u := range unknown {
			warnings = append(warnings, fmt.Sprintf("process.capabilities.%s: ignoring capability %s unknown to this kernel", f.field, u))
		}
		sets[f.which] = list
	}
	caps.Clear(capability.BOUNDING)
	caps.Set(capability.BOUNDING, sets[capability.BOUNDING]...)
	if err := caps.Apply(capability.BOUNDS); err != nil {
		return nil, nil, fmt.Errorf("process.capabilities.bounding: %w", err)
	}

	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return nil, nil, fmt.Errorf("keep capabilities across setuid: %w", err)
	}
	if err := switchUser(p.User); err != nil {
		return nil, nil, err
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return nil, nil, err
	}

	caps.Clear(capability.CAPS | capability.AMBIENT)
	caps.Set(capability.EFFECTIVE, sets[capability.EFFECTIVE]...)
	caps.Set(capability.PERMITTED, sets[capability.PERMITTED]...)
	caps.Set(capability.INHERITABLE, sets[capability.INHERITABLE]...)
	if err := caps.Apply(capability.CAPS); err != nil {
		return nil, nil, fmt.Errorf("process.capabilities: %w", err)
	}
	// The kernel raises an ambient capability only if it is both permitted
	// and inheritable; runc silently drops the others, rung notes it in
	// the debug log.
	if err := capability.ResetAmbient(); err != nil {
		return nil, nil, fmt.Errorf("process.capabilities.ambient: %w", err)
	}
	for _, c := range sets[capability.AMBIENT] {
		if !caps.Get(capability.PERMITTED, c) || !caps.Get(capability.INHERITABLE, c) {
			notes = append(notes, fmt.Sprintf("process.capabilities.ambient: %s is not both permitted and inheritable, not raised", capName(c)))
			continue
		}
		if err := capability.SetAmbient(true, c); err != nil {
			return nil, nil, fmt.Errorf("process.capabilities.ambient: raise %s: %w", capName(c), err)
		}
	}
	return warnings, notes, nil
}

// switchUser sets groups, gid and uid with raw syscalls: they change only
// this thread, the one that will exec.
func switchUser(u specs.User) error {
	gids := make([]uint32, len(u.AdditionalGids))
	copy(gids, u.AdditionalGids)
	var ptr uintptr
	if len(gids) > 0 {
		ptr = uintptr(unsafe.Pointer(&gids[0]))
	}
	// A rootless user namespace has setgroups denied (a single-id
	// gid_map needs it, user_namespaces(7)): the process keeps the
	// caller's own groups, which it had anyway, as under runc; groups the
	// config asks for cannot be given, so that is an error.
	if setgroupsDenied() {
		if len(gids) > 0 {
			return errors.New("process.user.additionalGids: cannot set additional groups: setgroups is denied in this (rootless) user namespace")
		}
	} else if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(gids)), ptr, 0); e != 0 {
		return fmt.Errorf("process.user.additionalGids: setgroups: %w", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(u.GID), uintptr(u.GID), uintptr(u.GID)); e != 0 {
		return fmt.Errorf("process.user.gid %d: setresgid: %w", u.GID, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(u.UID), uintptr(u.UID), uintptr(u.UID)); e != 0 {
		return fmt.Errorf("process.user.uid %d: setresuid: %w", u.UID, e)
	}
	return nil
}

var capsByName = func() map[string]capability.Cap {
	m := map[string]capability.Cap{}
	last, _ := capability.LastCap()
	for _, c := range capability.List() {
		if c <= last {
			m[capName(c)] = c
		}
	}
	return m
}()

func capName(c capability.Cap) string { return "CAP_" + strings.ToUpper(c.String()) }

func parseCaps(names []string) (known []capability.Cap, unknown []string) {
	for _, n := range names {
		if c, ok := capsByName[strings.ToUpper(n)]; ok {
			known = append(known, c)
		} else {
			unknown = append(unknown, n)
		}
	}
	return known, unknown
}

// enterCwdPrivileged changes to process.cwd while the runtime's
// privileges are still held, as runc does: a cwd the process' user cannot
// reach but the runtime can (/root, mode 700, for uid 42), or one the
// runtime reaches only with CAP_DAC_OVERRIDE, which the process lacks,
// still works. Where the runtime itself is refused (a user namespace's
// root on a directory of an unmapped owner), later reports that the chdir
// must be tried again as the process' user, after the drop.
func enterCwdPrivileged(cwd string) (later bool, err error) {
	err = enterCwd(cwd)
	if errors.Is(err, os.ErrPermission) {
		return true, nil
	}
	return false, err
}

// enterCwd changes to process.cwd and proves it is inside the container.
// CVE-2024-21626: a cwd like /proc/self/fd/N can land on a directory
// outside the container's root through one of init's own fds. The kernel
// marks such a cwd "(unreachable)"; anything but an absolute path inside
// the root is refused.
func enterCwd(cwd string) error {
	if err := os.Chdir(cwd); err != nil {
		return fmt.Errorf("chdir to cwd (%q) set in config.json failed: %w", cwd, err)
	}
	if wd, err := unix.Getwd(); err != nil || !strings.HasPrefix(wd, "/") {
		return fmt.Errorf("process.cwd %q: current working directory is outside of container mount namespace root", cwd)
	}
	return nil
}

// setgroupsDenied reports whether this process' user namespace has
// setgroups(2) denied.
func setgroupsDenied() bool {
	b, err := os.ReadFile("/proc/self/setgroups")
	return err == nil && strings.TrimSpace(string(b)) == "deny"
}
