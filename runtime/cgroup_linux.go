package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/opencontainers/cgroups"
	_ "github.com/opencontainers/cgroups/devices" // device rules for fs and fs2
	devconfig "github.com/opencontainers/cgroups/devices/config"
	"github.com/opencontainers/cgroups/manager"
	"golang.org/x/sys/unix"
)

// newCgroup creates the container's cgroup, moves pid (init, before it
// has forked anything) into it and applies the resources. Moving a
// process is the costly step on cgroup v1 (each hierarchy may wait for
// an RCU grace period), so it happens exactly once per container. On an
// error after the cgroup was made it returns the manager too: the caller
// removes the cgroup once init is out of it.
func newCgroup(cg *cgroups.Cgroup, pid int, kernelTCP *int64) (cgroups.Manager, error) {
	m, err := manager.New(cg)
	if err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	// A cgroupsPath that names a cgroup already in use would give the
	// container someone else's processes: kill --all and delete would
	// kill them (runc refuses it too, in these words).
	if m.Exists() {
		pids, err := m.GetAllPids()
		if err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, unix.ENODEV) {
			return nil, fmt.Errorf("cgroup: list the processes of %s: %w", cgroupName(cg), err)
		}
		if len(pids) > 0 {
			return nil, fmt.Errorf("container's cgroup is not empty: %d process(es) found", len(pids))
		}
	}
	if err := m.Apply(pid); err != nil {
		// Apply may have made some hierarchies' directories: hand them
		// back to be removed once init is gone.
		return m, fmt.Errorf("cgroup: join %s: %w", cgroupName(cg), err)
	}
	if err := m.Set(cg.Resources); err != nil {
		return m, fmt.Errorf("linux.resources: %w", err)
	}
	if kernelTCP != nil {
		if err := setKernelTCP(m, *kernelTCP); err != nil {
			return m, err
		}
	}
	if dir := m.Path("devices"); dir != "" && !cgroups.IsCgroup2UnifiedMode() {
		if err := writeDeviceRules(dir, cg.Resources.Devices); err != nil {
			return m, fmt.Errorf("linux.resources.devices: %w", err)
		}
	}
	return m, nil
}

// writeDeviceRules rewrites a v1 devices cgroup rule by rule, in the
// config's order: the runtime spec wants the entries applied in the listed
// order, and the library writes only a reordered difference. Deny
// everything first, then each rule; devices.list then lists them as given.
func writeDeviceRules(dir string, rules []*devconfig.Rule) error {
	if err := cgroups.WriteFile(dir, "devices.deny", "a"); err != nil {
		return err
	}
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

// loadCgroup reopens a container's cgroup from the paths in its record.
func loadCgroup(paths map[string]string) (cgroups.Manager, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	return manager.NewWithPaths(&cgroups.Cgroup{Resources: &cgroups.Resources{}}, paths)
}

// cgroupPids lists the processes in a container's cgroup, sub-cgroups too.
func (c *Container) cgroupPids() ([]int, error) {
	m, err := loadCgroup(c.Rec.CgroupPaths)
	if err != nil || m == nil {
		return nil, err
	}
	return m.GetAllPids()
}

// killCgroup SIGKILLs every process left in the container's cgroup and
// waits, up to 10 s, until the cgroup is empty.
func (c *Container) killCgroup() error {
	if len(c.Rec.CgroupPaths) == 0 {
		return nil
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		pids, err := c.cgroupPids()
		if errors.Is(err, fs.ErrNotExist) || err == nil && len(pids) == 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list processes in the container's cgroup: %w", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v in the container's cgroup survived SIGKILL", pids)
		}
		if err := c.Signal(unix.SIGKILL, true); err != nil && !errors.Is(err, errNotRunning) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// destroyCgroup removes the container's cgroup; the processes must be gone.
func (c *Container) destroyCgroup() error {
	m, err := loadCgroup(c.Rec.CgroupPaths)
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
	m, err := loadCgroup(c.Rec.CgroupPaths)
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
	m, err := loadCgroup(c.Rec.CgroupPaths)
	if err != nil {
		return err
	}
	if m == nil {
		return errors.New("container has no cgroup to freeze")
	}
	return m.Freeze(st)
}

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
		if len(c.Rec.CgroupPaths) == 0 {
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
