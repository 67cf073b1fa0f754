package runtime

import (
	"fmt"
	"strings"

	"github.com/opencontainers/cgroups"
	devices "github.com/opencontainers/cgroups/devices/config"
	"github.com/opencontainers/cgroups/systemd"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cgroupConfig turns the config's cgroupsPath and linux.resources into the
// cgroups library's terms. Without a cgroupsPath the cgroup is named after
// the container under the caller's own cgroup, as runc does. Under the
// systemd manager (unit non-nil) the cgroup is that transient unit's.
func cgroupConfig(s *specs.Spec, id string, unit *SystemdUnit) (_ *cgroups.Cgroup, warnings []string, err error) {
	cg := &cgroups.Cgroup{Resources: &cgroups.Resources{}}
	switch {
	case unit != nil:
		cg.Systemd = true
		cg.Parent, cg.ScopePrefix, cg.Name = unit.Slice, unit.ScopePrefix, unit.Name
	case s.Linux.CgroupsPath != "":
		cg.Path = s.Linux.CgroupsPath
	default:
		cg.Name = id
	}
	r := s.Linux.Resources
	res := cg.Resources
	res.Devices = defaultDeviceRules(s)
	if r == nil {
		return cg, nil, nil
	}
	if m := r.Memory; m != nil {
		res.Memory = int64Value(m.Limit)
		res.MemoryReservation = int64Value(m.Reservation)
		res.MemorySwap = int64Value(m.Swap)
		res.MemorySwappiness = m.Swappiness
		if m.DisableOOMKiller != nil {
			res.OomKillDisable = *m.DisableOOMKiller
		}
		if m.Kernel != nil {
			// Linux itself stopped enforcing kernel memory limits (deprecated
			// in 5.4, a no-op since 5.16, gone in 6.x), so there is nothing
			// rung could set; like runc and crun it says so and goes on.
			// (kernelTCP is still enforced by v1 and set by newCgroup.)
			warnings = append(warnings, "linux.resources.memory.kernel: kernel memory limits are not enforced by Linux any more; ignored")
		}
	}
	if c := r.CPU; c != nil {
		res.CpuShares = uint64Value(c.Shares)
		// cgroup v2 has cpu.weight, not shares; the library's v2
		// managers (fs2 and systemd) read only CpuWeight, so without
		// this the shares were silently dropped on v2. Converted as
		// runc converts them.
		res.CpuWeight = cgroups.ConvertCPUSharesToCgroupV2Value(res.CpuShares)
		res.CpuQuota = int64Value(c.Quota)
		res.CpuPeriod = uint64Value(c.Period)
		res.CpuRtRuntime = int64Value(c.RealtimeRuntime)
		res.CpuRtPeriod = uint64Value(c.RealtimePeriod)
		res.CpusetCpus = c.Cpus
		res.CpusetMems = c.Mems
		res.CPUIdle = c.Idle
		res.CpuBurst = c.Burst
	}
	if p := r.Pids; p != nil {
		limit := p.Limit
		res.PidsLimit = &limit
	}
	if b := r.BlockIO; b != nil {
		res.BlkioWeight = uint16Value(b.Weight)
		res.BlkioLeafWeight = uint16Value(b.LeafWeight)
		for _, d := range b.WeightDevice {
			res.BlkioWeightDevice = append(res.BlkioWeightDevice,
				cgroups.NewWeightDevice(d.Major, d.Minor, uint16Value(d.Weight), uint16Value(d.LeafWeight)))
		}
		res.BlkioThrottleReadBpsDevice = throttles(b.ThrottleReadBpsDevice)
		res.BlkioThrottleWriteBpsDevice = throttles(b.ThrottleWriteBpsDevice)
		res.BlkioThrottleReadIOPSDevice = throttles(b.ThrottleReadIOPSDevice)
		res.BlkioThrottleWriteIOPSDevice = throttles(b.ThrottleWriteIOPSDevice)
	}
	for _, h := range r.HugepageLimits {
		res.HugetlbLimit = append(res.HugetlbLimit, &cgroups.HugepageLimit{Pagesize: h.Pagesize, Limit: h.Limit})
	}
	if n := r.Network; n != nil {
		if n.ClassID != nil {
			res.NetClsClassid = *n.ClassID
		}
		for _, p := range n.Priorities {
			res.NetPrioIfpriomap = append(res.NetPrioIfpriomap, &cgroups.IfPrioMap{Interface: p.Name, Priority: int64(p.Priority)})
		}
	}
	if len(r.Rdma) > 0 {
		res.Rdma = map[string]cgroups.LinuxRdma{}
		for k, v := range r.Rdma {
			res.Rdma[k] = cgroups.LinuxRdma{HcaHandles: v.HcaHandles, HcaObjects: v.HcaObjects}
		}
	}
	res.Unified = r.Unified
	rules, err := deviceRules(r.Devices)
	if err != nil {
		return nil, nil, err
	}
	// The config's rules come first and the runtime's defaults after, so
	// a deny-all in the config does not take away the default devices.
	res.Devices = append(rules, res.Devices...)
	return cg, warnings, nil
}

// SystemdUnit names the transient unit that holds a container's cgroup
// under the systemd cgroup manager: ScopePrefix-Name.scope in Slice, or
// the slice Name itself when Name ends in ".slice" (runc's rule).
type SystemdUnit struct {
	Slice       string `json:"slice"`
	ScopePrefix string `json:"scopePrefix"`
	Name        string `json:"name"`
}

// defaultScopePrefix names rung's scopes when the config gives no
// cgroupsPath: "rung-<id>.scope", as runc's are "runc-<id>.scope".
const defaultScopePrefix = "rung"

// ParseSystemdCgroupsPath reads a cgroupsPath in runc's systemd form,
// "slice:prefix:name". An empty path means runc's default, the container
// ID in system.slice, or for a rootless caller in user.slice of its own
// systemd instance (the user bus), as runc's. Anything else is refused
// here, before any unit or process exists, rather than handed to systemd
// to guess at.
func ParseSystemdCgroupsPath(path, id string, rootless bool) (*SystemdUnit, error) {
	defaultSlice := "system.slice"
	if rootless {
		defaultSlice = "user.slice"
	}
	if path == "" {
		return &SystemdUnit{Slice: defaultSlice, ScopePrefix: defaultScopePrefix, Name: id}, nil
	}
	parts := strings.Split(path, ":")
	if len(parts) != 3 {
		return nil, fmt.Errorf("linux.cgroupsPath: expected \"slice:prefix:name\" for systemd cgroups, got %q", path)
	}
	u := &SystemdUnit{Slice: parts[0], ScopePrefix: parts[1], Name: parts[2]}
	if u.Slice == "" {
		u.Slice = defaultSlice
	}
	if _, err := systemd.ExpandSlice(u.Slice); err != nil {
		return nil, fmt.Errorf("linux.cgroupsPath %q: slice: %w", path, err)
	}
	for _, f := range []struct{ what, v string }{{"prefix", u.ScopePrefix}, {"name", u.Name}} {
		if strings.ContainsAny(f.v, "/\\\x00") || f.v == "." || f.v == ".." {
			return nil, fmt.Errorf("linux.cgroupsPath %q: invalid %s %q", path, f.what, f.v)
		}
	}
	if u.Name == "" {
		return nil, fmt.Errorf("linux.cgroupsPath %q: empty unit name", path)
	}
	if strings.HasSuffix(u.Name, ".slice") {
		// The container's cgroup is then that slice (the prefix is not
		// used, as in runc).
		if _, err := systemd.ExpandSlice(u.Name); err != nil {
			return nil, fmt.Errorf("linux.cgroupsPath %q: name: %w", path, err)
		}
	}
	return u, nil
}

func deviceRules(list []specs.LinuxDeviceCgroup) ([]*devices.Rule, error) {
	var out []*devices.Rule
	for i, d := range list {
		t := devices.WildcardDevice
		switch d.Type {
		case "", "a":
		case "c", "u":
			t = devices.CharDevice
		case "b":
			t = devices.BlockDevice
		case "p":
			t = devices.FifoDevice
		default:
			return nil, fmt.Errorf("linux.resources.devices[%d].type: unknown device type %q", i, d.Type)
		}
		perm, err := deviceAccess(d.Access, d.Allow)
		if err != nil {
			return nil, fmt.Errorf("linux.resources.devices[%d].access: %w", i, err)
		}
		major, minor := int64(devices.Wildcard), int64(devices.Wildcard)
		if d.Major != nil {
			major = *d.Major
		}
		if d.Minor != nil {
			minor = *d.Minor
		}
		out = append(out, &devices.Rule{Type: t, Major: major, Minor: minor, Permissions: perm, Allow: d.Allow})
	}
	return out, nil
}

// defaultDeviceRules allows what every container gets: mknod of any node
// (using one still needs a rule), the default devices, the pty devices,
// and each device of linux.devices.
func defaultDeviceRules(s *specs.Spec) []*devices.Rule {
	rule := func(t devices.Type, major, minor int64, perm devices.Permissions) *devices.Rule {
		return &devices.Rule{Type: t, Major: major, Minor: minor, Permissions: perm, Allow: true}
	}
	out := []*devices.Rule{
		rule(devices.CharDevice, devices.Wildcard, devices.Wildcard, "m"),
		rule(devices.BlockDevice, devices.Wildcard, devices.Wildcard, "m"),
		rule(devices.CharDevice, 1, 3, "rwm"),                  // null
		rule(devices.CharDevice, 1, 5, "rwm"),                  // zero
		rule(devices.CharDevice, 1, 7, "rwm"),                  // full
		rule(devices.CharDevice, 1, 8, "rwm"),                  // random
		rule(devices.CharDevice, 1, 9, "rwm"),                  // urandom
		rule(devices.CharDevice, 5, 0, "rwm"),                  // tty
		rule(devices.CharDevice, 5, 1, "rwm"),                  // console
		rule(devices.CharDevice, 5, 2, "rwm"),                  // ptmx
		rule(devices.CharDevice, 136, devices.Wildcard, "rwm"), // pts
	}
	for _, d := range s.Linux.Devices {
		t := devices.CharDevice
		switch d.Type {
		case "b":
			t = devices.BlockDevice
		case "p":
			continue // fifos are not subject to the devices cgroup
		}
		out = append(out, rule(t, d.Major, d.Minor, "rwm"))
	}
	return out
}

func throttles(list []specs.LinuxThrottleDevice) []*cgroups.ThrottleDevice {
	var out []*cgroups.ThrottleDevice
	for _, d := range list {
		out = append(out, cgroups.NewThrottleDevice(d.Major, d.Minor, d.Rate))
	}
	return out
}

func int64Value(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func uint64Value(p *uint64) uint64 {
	if p == nil {
		return 0
	}
	return *p
}

func uint16Value(p *uint16) uint16 {
	if p == nil {
		return 0
	}
	return *p
}
