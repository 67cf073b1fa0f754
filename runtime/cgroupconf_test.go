package runtime

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseSystemdCgroupsPath(t *testing.T) {
	for _, tc := range []struct {
		path     string
		rootless bool
		want     SystemdUnit
		wantErr  string
	}{
		{"", false, SystemdUnit{"system.slice", "rung", "ctr"}, ""},
		// A rootless caller's default is its own instance's user.slice.
		{"", true, SystemdUnit{"user.slice", "rung", "ctr"}, ""},
		{":libpod:abc", true, SystemdUnit{"user.slice", "libpod", "abc"}, ""},
		{"machine.slice:libpod:abc", true, SystemdUnit{"machine.slice", "libpod", "abc"}, ""},
		{"machine.slice:libpod:abc", false, SystemdUnit{"machine.slice", "libpod", "abc"}, ""},
		{":cri-containerd:abc", false, SystemdUnit{"system.slice", "cri-containerd", "abc"}, ""},
		{"kubepods-besteffort-pod1.slice:cri-containerd:abc", false, SystemdUnit{"kubepods-besteffort-pod1.slice", "cri-containerd", "abc"}, ""},
		{"system.slice::my.slice", false, SystemdUnit{"system.slice", "", "my.slice"}, ""},
		{"/a/b", false, SystemdUnit{}, `expected "slice:prefix:name"`},
		{"a:b:c:d", false, SystemdUnit{}, `expected "slice:prefix:name"`},
		{"system:rung:x", false, SystemdUnit{}, "slice: invalid slice name"},
		{"a--b.slice:rung:x", false, SystemdUnit{}, "slice: invalid slice name"},
		{"a/b.slice:rung:x", false, SystemdUnit{}, "slice: invalid slice name"},
		{"system.slice:rung:", false, SystemdUnit{}, "empty unit name"},
		{"system.slice:rung:..", false, SystemdUnit{}, `invalid name ".."`},
		{"system.slice:rung:a/b", false, SystemdUnit{}, `invalid name "a/b"`},
		{"system.slice:r/x:a", false, SystemdUnit{}, `invalid prefix "r/x"`},
		{"system.slice::-x.slice", false, SystemdUnit{}, "name: invalid slice name"},
	} {
		got, err := ParseSystemdCgroupsPath(tc.path, "ctr", tc.rootless)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "linux.cgroupsPath") {
				t.Errorf("%q: error %v, want one naming linux.cgroupsPath with %q", tc.path, err, tc.wantErr)
			}
			continue
		}
		if err != nil || *got != tc.want {
			t.Errorf("%q: %+v, %v; want %+v", tc.path, got, err, tc.want)
		}
	}
}

// cpu shares reach cgroup v2 as a weight: the v2 managers read only
// CpuWeight (0, unset, when no shares are given).
func TestCgroupConfigSharesToWeight(t *testing.T) {
	for _, tc := range []struct {
		shares *uint64
		want   uint64
	}{{nil, 0}, {u64(2), 1}, {u64(512), 59}, {u64(1024), 100}, {u64(262144), 10000}} {
		s := &specs.Spec{Linux: &specs.Linux{CgroupsPath: "/x", Resources: &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: tc.shares}}}}
		cg, _, err := cgroupConfig(s, "x", nil)
		if err != nil {
			t.Fatalf("shares %v: %v", tc.shares, err)
		}
		if cg.Resources.CpuWeight != tc.want {
			t.Errorf("shares %v: weight %d, want %d", tc.shares, cg.Resources.CpuWeight, tc.want)
		}
	}
}

func u64(v uint64) *uint64 { return &v }
