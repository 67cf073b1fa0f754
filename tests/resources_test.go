package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// resourceDir is the directory of the cgroup pid is in that holds file:
// the v2 cgroup on a unified host, else the v1 hierarchy named by the
// file's prefix (memory.limit_in_bytes → memory).
func resourceDir(t *testing.T, pid int, file string) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	controller := strings.SplitN(file, ".", 2)[0]
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		switch {
		case len(parts) != 3:
		case cgroupV2() && parts[0] == "0":
			return filepath.Join("/sys/fs/cgroup", parts[2])
		case !cgroupV2() && parts[1] == controller:
			return filepath.Join("/sys/fs/cgroup", controller, parts[2])
		}
	}
	t.Fatalf("pid %d has no cgroup for %s: %s", pid, file, data)
	return ""
}

// resourceFile reads file of the cgroup pid is in (see resourceDir).
func resourceFile(t *testing.T, pid int, file string) string {
	t.Helper()
	v, err := os.ReadFile(filepath.Join(resourceDir(t, pid, file), file))
	if err != nil {
		t.Errorf("read %s: %v", file, err)
	}
	return strings.TrimSpace(string(v))
}

// TestEveryResourceInEffect sets every linux.resources field this host's
// cgroups can hold and reads each back from the container's cgroup
// files: on cgroup v2 in their v2 form (cpu shares as cpu.weight, blkio
// as io, the swap limit as swap alone), as runc converts them; on a v1
// host in the v1 files.
func TestEveryResourceInEffect(t *testing.T) {
	e := newEnv(t)
	mem, resv, swap := int64(64<<20), int64(32<<20), int64(128<<20)
	shares, quota, period := uint64(512), int64(50000), uint64(100000)
	pids := int64(77)
	weight := uint16(500)
	v2 := cgroupV2()
	b := e.bundle("b", "strict", func(s *specs.Spec) {
		sleeper(s)
		r := &specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: &mem, Reservation: &resv},
			CPU:    &specs.LinuxCPU{Shares: &shares, Quota: &quota, Period: &period, Cpus: "0", Mems: "0"},
			Pids:   &specs.LinuxPids{Limit: pids},
		}
		if v2 {
			// v1 needs swap accounting (memsw) and a blkio weight file,
			// which this v1 machine's kernel lacks; v2 has both.
			r.Memory.Swap = &swap
			r.BlockIO = &specs.LinuxBlockIO{Weight: &weight}
			r.Unified = map[string]string{"memory.high": fmt.Sprint(96 << 20)}
		}
		s.Linux.Resources = r
	})
	e.must("run", "-d", "--bundle", b, "res")
	pid := e.state("res").Pid
	want := map[string]string{}
	if v2 {
		want = map[string]string{
			"memory.max":      fmt.Sprint(mem),
			"memory.low":      fmt.Sprint(resv),
			"memory.swap.max": fmt.Sprint(swap - mem), // v2 limits swap alone
			"memory.high":     fmt.Sprint(96 << 20),
			// Converted as the cgroups library (runc 1.3+, crun) does,
			// which maps the default 1024 to the default weight 100;
			// Debian's runc 1.1 gave 20 by a linear rule. Not 100:
			// dropped shares would read as the default.
			"cpu.weight":  "59",
			"cpu.max":     "50000 100000",
			"cpuset.cpus": "0",
			"cpuset.mems": "0",
			"pids.max":    fmt.Sprint(pids),
		}
	} else {
		want = map[string]string{
			"memory.limit_in_bytes":      fmt.Sprint(mem),
			"memory.soft_limit_in_bytes": fmt.Sprint(resv),
			"cpu.shares":                 fmt.Sprint(shares),
			"cpu.cfs_quota_us":           fmt.Sprint(quota),
			"cpu.cfs_period_us":          fmt.Sprint(period),
			"cpuset.cpus":                "0",
			"cpuset.mems":                "0",
			"pids.max":                   fmt.Sprint(pids),
		}
	}
	for file, v := range want {
		if got := resourceFile(t, pid, file); got != v {
			t.Errorf("%s = %q, want %q", file, got, v)
		}
	}
	if v2 {
		// The blkio weight lands in io.bfq.weight where BFQ is the
		// scheduler, else converted into io.weight (1 + (500-10)*9999/990).
		if _, err := os.Stat(filepath.Join(resourceDir(t, pid, "io.weight"), "io.bfq.weight")); err == nil {
			if got := resourceFile(t, pid, "io.bfq.weight"); !strings.Contains(got, "500") {
				t.Errorf("io.bfq.weight %q, want the blkio weight 500", got)
			}
		} else if got := resourceFile(t, pid, "io.weight"); !strings.Contains(got, "4950") {
			t.Errorf("io.weight %q, want 4950 (blkio weight 500)", got)
		}
	}
	e.must("delete", "--force", "res")
	e.noLeftovers("res")
}
