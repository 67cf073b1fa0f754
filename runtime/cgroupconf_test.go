package runtime

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseSystemdCgroupsPath(t *testing.T) {
	for _, tc := range []struct {
		path    string
		want    SystemdUnit
		wantErr string
	}{
		{"", SystemdUnit{"system.slice", "rung", "ctr"}, ""},
		{"machine.slice:libpod:abc", SystemdUnit{"machine.slice", "libpod", "abc"}, ""},
		{":cri-containerd:abc", SystemdUnit{"system.slice", "cri-containerd", "abc"}, ""},
		{"kubepods-besteffort-pod1.slice:cri-containerd:abc", SystemdUnit{"kubepods-besteffort-pod1.slice", "cri-containerd", "abc"}, ""},
		{"system.slice::my.slice", SystemdUnit{"system.slice", "", "my.slice"}, ""},
		{"/a/b", SystemdUnit{}, `expected "slice:prefix:name"`},
		{"a:b:c:d", SystemdUnit{}, `expected "slice:prefix:name"`},
		{"system:rung:x", SystemdUnit{}, "slice: invalid slice name"},
		{"a--b.slice:rung:x", SystemdUnit{}, "slice: invalid slice name"},
		{"a/b.slice:rung:x", SystemdUnit{}, "slice: invalid slice name"},
		{"system.slice:rung:", SystemdUnit{}, "empty unit name"},
		{"system.slice:rung:..", SystemdUnit{}, `invalid name ".."`},
		{"system.slice:rung:a/b", SystemdUnit{}, `invalid name "a/b"`},
		{"system.slice:r/x:a", SystemdUnit{}, `invalid prefix "r/x"`},
		{"system.slice::-x.slice", SystemdUnit{}, "name: invalid slice name"},
	} {
		got, err := ParseSystemdCgroupsPath(tc.path, "ctr")
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
