package hostcheck

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/sys/mountinfo"
)

// probeCgroups reads the cgroup layout from the caller's mountinfo and the
// v2 hierarchy's controller files.
func probeCgroups() (Cgroup, error) {
	infos, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return Cgroup{}, err
	}
	mounts := make([]cgroupMount, 0, len(infos))
	for _, m := range infos {
		mounts = append(mounts, cgroupMount{Mountpoint: m.Mountpoint, FSType: m.FSType, Options: m.VFSOptions})
	}
	mode, v2, v1 := classifyCgroups(mounts)
	c := Cgroup{Mode: mode, V1: v1}
	if c.V1 == nil {
		c.V1 = []CgroupV1Mount{}
	}
	if v2 != "" {
		c.V2 = &CgroupV2{
			Mountpoint:     v2,
			Controllers:    readFields(filepath.Join(v2, "cgroup.controllers")),
			SubtreeControl: readFields(filepath.Join(v2, "cgroup.subtree_control")),
			Own:            ownV2Cgroup(),
		}
		c.V2.OwnControllers = readFields(filepath.Join(v2, c.V2.Own, "cgroup.controllers"))
	}
	return c, nil
}

// ownV2Cgroup is the caller's cgroup on the v2 hierarchy ("0::/path").
func ownV2Cgroup() string {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			return p
		}
	}
	return ""
}

func readFields(p string) []string {
	b, err := os.ReadFile(p)
	if err != nil {
		return []string{}
	}
	return fields(string(b))
}
