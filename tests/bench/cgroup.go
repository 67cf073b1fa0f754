package main

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

const (
	cgroupRoot = "/sys/fs/cgroup"
	hugetlbDir = cgroupRoot + "/hugetlb"
)

// fixHybridHugetlb works around crun's "cgroups in hybrid mode not
// supported, drop all controllers from cgroupv2": on a cgroup v1 host with
// a cgroup2 mount at /sys/fs/cgroup/unified, hugetlb has no v1 hierarchy
// and so sits on cgroup2. Mounting a v1 hierarchy for it (the fix crun's
// users are pointed to) empties cgroup2 of controllers. The mount is left
// in place afterwards. It returns a note for the report, or "".
func fixHybridHugetlb() string {
	if fsType(cgroupRoot) == unix.CGROUP2_SUPER_MAGIC {
		return "" // pure cgroup v2: crun's hybrid check does not apply
	}
	if fsType(hugetlbDir) == unix.CGROUP_SUPER_MAGIC {
		return "" // already a v1 hierarchy
	}
	if err := os.MkdirAll(hugetlbDir, 0o755); err != nil {
		return fmt.Sprintf("could not create %s for crun: %v", hugetlbDir, err)
	}
	err := unix.Mount("cgroup", hugetlbDir, "cgroup", 0, "hugetlb")
	if errors.Is(err, unix.EBUSY) {
		return "" // someone mounted it meanwhile
	}
	if err != nil {
		return fmt.Sprintf("could not mount the hugetlb cgroup at %s for crun: %v", hugetlbDir, err)
	}
	return fmt.Sprintf("mounted the v1 hugetlb cgroup at %s so that crun accepts the hybrid layout (left mounted)", hugetlbDir)
}

// fsType is the filesystem magic of path, or 0 if it cannot be read.
func fsType(path string) int64 {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0
	}
	return int64(st.Type)
}
