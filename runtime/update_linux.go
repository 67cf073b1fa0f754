package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rungrt/rung/internal/statefs"
)

// Update merges r into the container's linux.resources, applies the
// merged resources to its cgroup and records them, so the next update
// and `events` start from what is in effect. Fields r leaves unset keep
// their value. Device rules are added after the container's own, so the
// latest rule for a device decides (updateDevices).
func (c *Container) Update(r *specs.LinuxResources) error {
	lock, err := statefs.Lock(c.dir, true)
	if err != nil {
		return err
	}
	defer lock.Close()
	if c.Status() == Stopped {
		return errNotRunning
	}
	s, err := c.Rec.Spec()
	if err != nil {
		return err
	}
	if c.Rec.Cgroup == nil || s == nil || s.Linux == nil {
		return errors.New("container has no cgroup to update")
	}
	if len(c.Rec.Cgroup.dirs()) == 0 {
		return fmt.Errorf("update: %w", errNoCgroup)
	}
	if s.Linux.Resources == nil {
		s.Linux.Resources = &specs.LinuxResources{}
	}
	newRules, err := deviceRules(r.Devices)
	if err != nil {
		return err
	}
	mergeResources(s.Linux.Resources, r)
	cg, warnings, err := cgroupConfig(s, c.Rec.ID, c.Rec.Cgroup.Systemd)
	if err != nil {
		return err
	}
	_ = warnings // said once at create
	cg.Resources.SkipDevices = true
	// Under systemd, Set changes the unit's properties as well as the
	// cgroup files, so that systemd does not later put back old values.
	m, err := c.Rec.Cgroup.manager(cg.Resources)
	if err != nil {
		return err
	}
	if err := m.Set(cg.Resources); err != nil {
		return fmt.Errorf("update resources: %w", err)
	}
	if r.Memory != nil && r.Memory.KernelTCP != nil {
		if err := setKernelTCP(m, *r.Memory.KernelTCP); err != nil {
			return err
		}
	}
	if len(newRules) > 0 {
		if err := updateDevices(m, cg, newRules); err != nil {
			return fmt.Errorf("linux.resources.devices: %w", err)
		}
		s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, r.Devices...)
	}
	return writeRecord(c.dir, c.Rec)
}

// setKernelTCP sets the cgroup v1 TCP buffer limit, which Linux still
// enforces and the cgroups library has no field for.
func setKernelTCP(m cgroups.Manager, limit int64) error {
	dir := m.Path("memory")
	if dir == "" || cgroups.IsCgroup2UnifiedMode() {
		return errors.New("linux.resources.memory.kernelTCP: needs a cgroup v1 memory controller")
	}
	if err := cgroups.WriteFile(dir, "memory.kmem.tcp.limit_in_bytes", strconv.FormatInt(limit, 10)); err != nil {
		return fmt.Errorf("linux.resources.memory.kernelTCP: %w", err)
	}
	return nil
}

// DecodeResources reads the linux.resources object of `update --resources`.
// Like runc, it reads the first JSON value and ignores what follows.
func DecodeResources(in io.Reader) (*specs.LinuxResources, error) {
	r := &specs.LinuxResources{}
	if err := json.NewDecoder(in).Decode(r); err != nil {
		return nil, err
	}
	return r, nil
}

// mergeResources sets in dst every field that src sets.
func mergeResources(dst, src *specs.LinuxResources) {
	if m := src.Memory; m != nil {
		if dst.Memory == nil {
			dst.Memory = &specs.LinuxMemory{}
		}
		d := dst.Memory
		set(&d.Limit, m.Limit)
		set(&d.Reservation, m.Reservation)
		set(&d.Swap, m.Swap)
		set(&d.Kernel, m.Kernel)
		set(&d.KernelTCP, m.KernelTCP)
		set(&d.Swappiness, m.Swappiness)
		set(&d.DisableOOMKiller, m.DisableOOMKiller)
		set(&d.UseHierarchy, m.UseHierarchy)
		set(&d.CheckBeforeUpdate, m.CheckBeforeUpdate)
	}
	if p := src.CPU; p != nil {
		if dst.CPU == nil {
			dst.CPU = &specs.LinuxCPU{}
		}
		d := dst.CPU
		set(&d.Shares, p.Shares)
		set(&d.Quota, p.Quota)
		set(&d.Burst, p.Burst)
		set(&d.Period, p.Period)
		set(&d.RealtimeRuntime, p.RealtimeRuntime)
		set(&d.RealtimePeriod, p.RealtimePeriod)
		set(&d.Idle, p.Idle)
		if p.Cpus != "" {
			d.Cpus = p.Cpus
		}
		if p.Mems != "" {
			d.Mems = p.Mems
		}
	}
	if p := src.Pids; p != nil {
		dst.Pids = &specs.LinuxPids{Limit: p.Limit}
	}
	if b := src.BlockIO; b != nil {
		if dst.BlockIO == nil {
			dst.BlockIO = &specs.LinuxBlockIO{}
		}
		set(&dst.BlockIO.Weight, b.Weight)
		set(&dst.BlockIO.LeafWeight, b.LeafWeight)
		if b.WeightDevice != nil {
			dst.BlockIO.WeightDevice = b.WeightDevice
		}
		if b.ThrottleReadBpsDevice != nil {
			dst.BlockIO.ThrottleReadBpsDevice = b.ThrottleReadBpsDevice
		}
		if b.ThrottleWriteBpsDevice != nil {
			dst.BlockIO.ThrottleWriteBpsDevice = b.ThrottleWriteBpsDevice
		}
		if b.ThrottleReadIOPSDevice != nil {
			dst.BlockIO.ThrottleReadIOPSDevice = b.ThrottleReadIOPSDevice
		}
		if b.ThrottleWriteIOPSDevice != nil {
			dst.BlockIO.ThrottleWriteIOPSDevice = b.ThrottleWriteIOPSDevice
		}
	}
	if src.HugepageLimits != nil {
		dst.HugepageLimits = src.HugepageLimits
	}
	if src.Network != nil {
		dst.Network = src.Network
	}
	if src.Unified != nil {
		if dst.Unified == nil {
			dst.Unified = map[string]string{}
		}
		for k, v := range src.Unified {
			dst.Unified[k] = v
		}
	}
}

func set[T any](dst **T, src *T) {
	if src != nil {
		v := *src
		*dst = &v
	}
}
