package runtime

import (
	"fmt"
	"strings"

	devices "github.com/opencontainers/cgroups/devices/config"
)

// deviceAccess reads a device rule's access. Besides r, w and m it takes
// "a" (as in "rwa"), which runc accepts: in a deny rule it denies every
// access (rwm), so the rule denies at least what it names; in an allow
// rule it grants nothing beyond the other letters. Empty is rwm.
func deviceAccess(access string, allow bool) (devices.Permissions, error) {
	if access == "" {
		return "rwm", nil
	}
	var set string
	for _, c := range access {
		switch c {
		case 'r', 'w', 'm':
			if !strings.ContainsRune(set, c) {
				set += string(c)
			}
		case 'a':
			if !allow {
				return "rwm", nil
			}
		default:
			return "", fmt.Errorf("invalid %q (want letters of rwm)", access)
		}
	}
	if set == "" {
		return "", fmt.Errorf("invalid %q: grants nothing", access)
	}
	// The cgroup wants them in rwm order.
	return devices.Permissions("").Union(devices.Permissions(set)), nil
}
