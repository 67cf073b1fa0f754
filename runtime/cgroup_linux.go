package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/cgroups"
	_ "github.com/opencontainers/cgroups/devices" // device rules for fs and fs2
	devconfig "github.com/opencontainers/cgroups/devices/config"
	"github.com/opencontainers/cgroups/manager"
	"golang.org/x/sys/unix"

	"github.com/rungrt/rung/internal/statefs"
)

// CgroupRef names a container's cgroup: enough to reopen, signal and
// remove it without the config.
type CgroupRef struct {
	// Paths maps each controller to the cgroup's directory (the key ""
	// on cgroup v2).
	Paths map[string]string `json:"paths"`
	// Systemd is set when systemd manages the cgroup as a transient unit
	// (--systemd-cgroup); removing the cgroup then stops that unit.
	Systemd *SystemdUnit `json:"systemd,omitempty"`
	// Rootless: the cgroup was made for a caller without root, through
	// its own systemd instance (the user bus) under systemd; reopening it
	// must go the same way.
	Rootless bool `json:"rootless,omitempty"`
}

// dirs is the cgroup's directory per controller; none without a cgroup.
func (ref *CgroupRef) dirs() map[string]string {
	if ref == nil {
		return nil
	}
	return ref.Paths
}

// cgroupRefFile holds the CgroupRef from before the cgroup is made until
// the state file takes over: a create killed in between leaves a cgroup
// (and under systemd a unit) that delete can still find and remove.
const cgroupRefFile = "cgroup.json"

// openCgroup readies the container's cgroup manager before init exists,
// so that a cgroup manager that cannot work here (systemd not running, a
// cgroup already in use) fails the create before any process starts. It
// records the cgroup in dir before anything is made.
func openCgroup(dir string, cg *cgroups.Cgroup, unit *SystemdUnit) (cgroups.Manager, *CgroupRef, error) {
	m, err := manager.New(cg)
	if err != nil {
		return nil, nil, fmt.Errorf("cgroup: %w", err)
	}
	// A cgroupsPath that names a cgroup already in use would give the
	// container someone else's processes: kill --all and delete would
	// kill them (runc refuses it too, in these words).
	if m.Exists() {
		pids, err := m.GetAllPids()
		if err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, unix.ENODEV) {
			return nil, nil, fmt.Errorf("cgroup: list the processes of %s: %w", cgroupName(cg), err)
		}
		if len(pids) > 0 {
			return nil, nil, fmt.Errorf("container's cgroup is not empty: %d process(es) found", len(pids))
		}
	}
	ref := &CgroupRef{Paths: m.GetPaths(), Systemd: unit, Rootless: cg.Rootless}
	data, err := json.Marshal(ref)
	if err != nil {
		return nil, nil, err
	}
	if err := statefs.WriteFileAtomic(filepath.Join(dir, cgroupRefFile), data, 0o600); err != nil {
		return nil, nil, fmt.Errorf("record cgroup: %w", err)
	}
	return m, ref, nil
}

// precreateCgroup makes the container's cgroup before init exists, on
// cgroup v2 under the cgroupfs manager, and opens it for clone3's
// CLONE_INTO_CGROUP (Linux 5.7): init then starts inside, with no
// migration afterwards and no moment outside its limits. It returns nil
// where that does not apply: cgroup v1, where the clone cannot target a
// cgroup per hierarchy, and systemd, which makes the scope from init's pid.
func precreateCgroup(m cgroups.Manager, cg *cgroups.Cgroup) (*os.File, error) {
	// Rootless: a cgroup the caller may not make is skipped where the
	// config asks no limits (applyCgroup), so init is not cloned into it.
	if cg.Systemd || cg.Rootless || !cgroups.IsCgroup2UnifiedMode() || !kernelAtLeast(5, 7) {
		return nil, nil
	}
	if err := m.Apply(-1); err != nil {
		return nil, fmt.Errorf("cgroup: create %s: %w", cgroupName(cg), err)
	}
	f, err := os.OpenFile(m.Path(""), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("cgroup: open %s: %w", m.Path(""), err)
	}
	return f, nil
}

// kernelAtLeast reports whether the running kernel is major.minor or newer.
func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	var ma, mi int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// applyCgroup makes the container's cgroup, moves pid (init, before it
// has forked anything) into it and applies the resources. Moving a
// process is the costly step on cgroup v1 (each hierarchy may wait for
// an RCU grace period), so it happens exactly once per container; pid -1
// when init was cloned into it. On an error the caller removes the cgroup
// once init is out of it.
func applyCgroup(m cgroups.Manager, cg *cgroups.Cgroup, pid int, kernelTCP *int64) error {
	// ErrRootless: a hierarchy denied to a rootless caller without a
	// cgroupsPath; Set below fails if the config asks a limit of it.
	if err := m.Apply(pid); err != nil && !(cg.Rootless && errors.Is(err, cgroups.ErrRootless)) {
		if cg.Systemd {
			return fmt.Errorf("cgroup: systemd: start the container's unit: %w", err)
		}
		return fmt.Errorf("cgroup: join %s: %w", cgroupName(cg), err)
	}
	if err := m.Set(cg.Resources); err != nil {
		return fmt.Errorf("linux.resources: %w", err)
	}
	if kernelTCP != nil {
		if err := setKernelTCP(m, *kernelTCP); err != nil {
			return err
		}
	}
	if dir := m.Path("devices"); dir != "" && !cgroups.IsCgroup2UnifiedMode() {
		if err := writeDeviceRules(dir, cg.Resources.Devices); err != nil {
			return fmt.Errorf("linux.resources.devices: %w", err)
		}
	}
	return nil
}

// writeDeviceRules rewrites a v1 devices cgroup rule by rule, in the
// config's order: the runtime spec wants the entries applied in the listed
// order, and the library writes only a reordered difference. Deny
// everything first, then each rule; devices.list then lists them as given.
func writeDeviceRules(dir string, rules []*devconfig.Rule) error {
	if err := cgroups.WriteFile(dir, "devices.deny", "a"); err != nil {
		return err
	}
	return appendDeviceRules(dir, rules)
}

// appendDeviceRules writes each rule to a v1 devices cgroup in order, which
// appends it to the cgroup's list: the latest rule for a device decides.
func appendDeviceRules(dir string, rules []*devconfig.Rule) error {
	for _, r := range rules {
		file := "devices.deny"
		if r.Allow {
			file = "devices.allow"
		}
		if err := cgroups.WriteFile(dir, file, r.CgroupString()); err != nil {
			return fmt.Errorf("%s %s: %w", file, r.CgroupString(), err)
		}
	}
	return nil
}

func cgroupName(cg *cgroups.Cgroup) string {
	if cg.Path != "" {
		return cg.Path
	}
	return cg.Name
}

// manager reopens a recorded cgroup. Under systemd it knows its unit, so
// that Destroy stops the unit and Set updates its properties too.
func (ref *CgroupRef) manager(res *cgroups.Resources) (cgroups.Manager, error) {
	if ref == nil || len(ref.Paths) == 0 {
		return nil, nil
	}
	if res == nil {
		res = &cgroups.Resources{}
	}
	cg := &cgroups.Cgroup{Resources: res, Rootless: ref.Rootless}
	if u := ref.Systemd; u != nil {
		cg.Systemd = true
		cg.Parent, cg.ScopePrefix, cg.Name = u.Slice, u.ScopePrefix, u.Name
	}
	m, err := manager.NewWithPaths(cg, ref.Paths)
	if err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	return m, nil
}

// joinCgroup moves pid into path, the container's cgroup (or a sub-cgroup
// of it) for controller key. A rootless caller outside the subtree systemd
// delegated to its user (a login session's scope, say) may not move a
// process into it: cgroup v2 wants write access to the common ancestor.
// Under systemd the user's own instance is then asked to (D-Bus
// AttachProcessesToUnit, which it takes to the system manager), as runc
// does; if that fails too, so does the exec: the process never runs
// outside the container's cgroup.
func (c *Container) joinCgroup(key, path string, pid int) error {
	err := cgroups.WriteCgroupProc(path, pid)
	ref := c.Rec.Cgroup
	if err == nil || !errors.Is(err, os.ErrPermission) || ref == nil || ref.Systemd == nil || !ref.Rootless {
		return err
	}
	sub, rerr := filepath.Rel(ref.Paths[key], path)
	if rerr != nil || strings.HasPrefix(sub, "..") {
		return err
	}
	if sub == "." {
		sub = ""
	}
	m, merr := ref.manager(nil)
	if merr != nil {
		return fmt.Errorf("%w (and through systemd: %v)", err, merr)
	}
	if aerr := m.AddPid(sub, pid); aerr != nil {
		return fmt.Errorf("%w (and through systemd: %v)", err, aerr)
	}
	return nil
}

// readCgroupRef reads the cgroup a create recorded in dir before making it.
func readCgroupRef(dir string) (*CgroupRef, error) {
	data, err := os.ReadFile(filepath.Join(dir, cgroupRefFile))
	if err != nil {
		return nil, err
	}
	var ref CgroupRef
	if err := json.Unmarshal(data, &ref); err != nil {
		return nil, fmt.Errorf("corrupt cgroup record %s: %w", filepath.Join(dir, cgroupRefFile), err)
	}
	return &ref, nil
}

// removeCgroup SIGKILLs whatever ref's cgroup still holds and removes it
// (and its systemd unit).
func removeCgroup(ref *CgroupRef) error {
	m, err := ref.manager(nil)
	if err != nil || m == nil {
		return err
	}
	if err := killAll(m); err != nil {
		return err
	}
	if err := m.Destroy(); err != nil {
		return fmt.Errorf("remove cgroup: %w", err)
	}
	return nil
}

// killAll SIGKILLs every process in m's cgroup and waits, up to 10 s,
// until it is empty.
func killAll(m cgroups.Manager) error {
	for deadline := time.Now().Add(10 * time.Second); ; {
		pids, err := m.GetAllPids()
		if errors.Is(err, fs.ErrNotExist) || err == nil && len(pids) == 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list processes in the container's cgroup: %w", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v in the container's cgroup survived SIGKILL", pids)
		}
		if err := killCgroupProcs(m); err != nil {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// killCgroupProcs SIGKILLs every process in m's cgroup at once. cgroup v2
// (Linux 5.14+) does it in the kernel through cgroup.kill, which also
// catches what forks meanwhile; elsewhere the cgroup is frozen first, so
// that no process forks, and no listed pid exits and is reused, between
// listing and signalling (frozen processes take SIGKILL when thawed).
func killCgroupProcs(m cgroups.Manager) error {
	if dir := m.Path(""); dir != "" && cgroups.IsCgroup2UnifiedMode() {
		err := cgroups.WriteFile(dir, "cgroup.kill", "1")
		if err == nil {
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) { // no cgroup.kill before 5.14
			return fmt.Errorf("cgroup.kill: %w", err)
		}
	}
	if err := m.Freeze(cgroups.Frozen); err == nil {
		defer func() { _ = m.Freeze(cgroups.Thawed) }()
	}
	pids, err := m.GetAllPids()
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, pid := range pids {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
	return nil
}

// cgroupPids lists the processes in a container's cgroup, sub-cgroups too.
func (c *Container) cgroupPids() ([]int, error) {
	m, err := c.Rec.Cgroup.manager(nil)
	if err != nil || m == nil {
		return nil, err
	}
	return m.GetAllPids()
}

// killCgroup SIGKILLs every process left in the container's cgroup and
// waits, up to 10 s, until the cgroup is empty.
func (c *Container) killCgroup() error {
	m, err := c.Rec.Cgroup.manager(nil)
	if err != nil || m == nil {
		return err
	}
	return killAll(m)
}

// destroyCgroup removes the container's cgroup; the processes must be gone.
func (c *Container) destroyCgroup() error {
	m, err := c.Rec.Cgroup.manager(nil)
	if err != nil || m == nil {
		return err
	}
	if err := m.Destroy(); err != nil && !errors.Is(err, errNotRunning) {
		return fmt.Errorf("remove cgroup: %w", err)
	}
	return nil
}

// freezerState reads whether the container's cgroup is frozen.
func (c *Container) freezerState() cgroups.FreezerState {
	m, err := c.Rec.Cgroup.manager(nil)
	if err != nil || m == nil {
		return cgroups.Undefined
	}
	st, err := m.GetFreezerState()
	if err != nil {
		return cgroups.Undefined
	}
	return st
}

func (c *Container) freeze(st cgroups.FreezerState) error {
	m, err := c.Rec.Cgroup.manager(nil)
	if err != nil {
		return err
	}
	if m == nil {
		return errNoCgroup
	}
	return m.Freeze(st)
}

// errNoCgroup: a rootless create skips the cgroup the caller may not make
// (a config without limits, as runc does); what needs one then fails.
var errNoCgroup = errors.New("the container has no cgroup: it was created rootless and no cgroup was delegated to the caller")

// Pause freezes every process of a running container.
func (c *Container) Pause() error {
	switch st := c.Status(); st {
	case Running:
	case Paused:
		return errors.New("container already paused")
	default:
		return errNotRunning
	}
	if err := c.freeze(cgroups.Frozen); err != nil {
		return fmt.Errorf("pause: %w", err)
	}
	return nil
}

// Resume thaws a paused container.
func (c *Container) Resume() error {
	if st := c.Status(); st != Paused {
		return errors.New("container not paused")
	}
	if err := c.freeze(cgroups.Thawed); err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	return nil
}

// Pids lists the host pids of the container's processes. A stopped
// container has none unless its cgroup still holds some (a pod's, which
// share a pid namespace): as with runc, ps lists those and is no error.
func (c *Container) Pids() ([]int, error) {
	if c.Status() == Stopped {
		if len(c.Rec.Cgroup.dirs()) == 0 {
			return nil, nil
		}
		pids, err := c.cgroupPids()
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return pids, err
	}
	procs, err := c.processes()
	if err != nil {
		return nil, err
	}
	pids := []int{}
	for _, p := range procs {
		pids = append(pids, p.pid)
	}
	return pids, nil
}
