package runtime

import (
	"fmt"

	"github.com/opencontainers/cgroups"
	devices "github.com/opencontainers/cgroups/devices/config"
)

// updateDevices adds an update's device rules after the container's own,
// so the latest rule for a device decides: a deny really denies (runc
// 1.1 ignores an update's devices, and a deny there silently does
// nothing). On v1 each rule is written as is, which is exactly appending
// it to the cgroup's list, with no moment where the container's devices
// are all denied; on v2 the filter is rebuilt from the whole list.
func updateDevices(m cgroups.Manager, cg *cgroups.Cgroup, rules []*devices.Rule) error {
	if !cgroups.IsCgroup2UnifiedMode() {
		dir := m.Path("devices")
		if dir == "" {
			return fmt.Errorf("no devices cgroup")
		}
		return appendDeviceRules(dir, rules)
	}
	res := *cg.Resources
	res.Devices = append(append([]*devices.Rule{}, cg.Resources.Devices...), rules...)
	res.SkipDevices = false
	return m.Set(&res)
}
