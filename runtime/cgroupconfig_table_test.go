package runtime

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/opencontainers/cgroups"
	devices "github.com/opencontainers/cgroups/devices/config"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func i64(v int64) *int64   { return &v }
func u16(v uint16) *uint16 { return &v }
func u32(v uint32) *uint32 { return &v }
func boolp(v bool) *bool   { return &v }
func js2(v any) string     { b, _ := json.Marshal(v); return string(b) }
func devRule(t devices.Type, major, minor int64, perm string, allow bool) *devices.Rule {
	return &devices.Rule{Type: t, Major: major, Minor: minor, Permissions: devices.Permissions(perm), Allow: allow}
}

// defaultRules is what every container may use whatever its config says
// (the OCI runtime spec's "default devices" plus /dev/pts and mknod), in
// the order cgroupConfig appends them; extra are linux.devices' rules.
func defaultRules(extra ...*devices.Rule) []*devices.Rule {
	const w = devices.Wildcard
	c := devices.CharDevice
	out := []*devices.Rule{
		devRule(c, w, w, "m", true), devRule(devices.BlockDevice, w, w, "m", true),
		devRule(c, 1, 3, "rwm", true), devRule(c, 1, 5, "rwm", true), devRule(c, 1, 7, "rwm", true),
		devRule(c, 1, 8, "rwm", true), devRule(c, 1, 9, "rwm", true),
		devRule(c, 5, 0, "rwm", true), devRule(c, 5, 1, "rwm", true), devRule(c, 5, 2, "rwm", true),
		devRule(c, 136, w, "rwm", true),
	}
	return append(out, extra...)
}

// TestCgroupConfigTable checks, field by field, how linux.cgroupsPath and
// linux.resources become the cgroups library's Resources. The expected
// values are the config's own (runc copies them one to one), the v2 weight
// of the shares (the library's conversion: 1024 shares = weight 100), and
// the device rules: the config's first, the defaults after.
func TestCgroupConfigTable(t *testing.T) {
	for _, tc := range []struct {
		name    string
		path    string
		unit    *SystemdUnit
		devs    []specs.LinuxDevice
		res     *specs.LinuxResources
		want    cgroups.Cgroup
		warn    string
		wantErr string
	}{
		{
			name: "no path: named after the container",
			want: cgroups.Cgroup{Name: "ctr", Resources: &cgroups.Resources{Devices: defaultRules()}},
		},
		{
			name: "cgroupsPath used as is",
			path: "/a/b",
			want: cgroups.Cgroup{Path: "/a/b", Resources: &cgroups.Resources{Devices: defaultRules()}},
		},
		{
			name: "systemd unit",
			path: "/ignored",
			unit: &SystemdUnit{Slice: "machine.slice", ScopePrefix: "libpod", Name: "abc"},
			want: cgroups.Cgroup{Systemd: true, Parent: "machine.slice", ScopePrefix: "libpod", Name: "abc", Resources: &cgroups.Resources{Devices: defaultRules()}},
		},
		{
			// A block device gets a block rule, a char device a char rule;
			// a fifo is not under the devices cgroup, so it gets none.
			name: "linux.devices allowed after the defaults",
			path: "/x",
			devs: []specs.LinuxDevice{{Type: "c", Major: 10, Minor: 200}, {Type: "b", Major: 8, Minor: 0}, {Type: "p", Major: 0, Minor: 0}},
			want: cgroups.Cgroup{Path: "/x", Resources: &cgroups.Resources{Devices: defaultRules(
				devRule(devices.CharDevice, 10, 200, "rwm", true), devRule(devices.BlockDevice, 8, 0, "rwm", true))}},
		},
		{
			name: "memory",
			path: "/x",
			res: &specs.LinuxResources{Memory: &specs.LinuxMemory{
				Limit: i64(1 << 20), Reservation: i64(1 << 19), Swap: i64(2 << 20), Swappiness: u64(10), DisableOOMKiller: boolp(true)}},
			want: cgroups.Cgroup{Path: "/x", Resources: &cgroups.Resources{
				Memory: 1 << 20, MemoryReservation: 1 << 19, MemorySwap: 2 << 20, MemorySwappiness: u64(10), OomKillDisable: true, Devices: defaultRules()}},
		},
		{
			// Linux no longer enforces kernel memory limits (a no-op since
			// 5.16): a warning, nothing set.
			name: "kernel memory warns",
			path: "/x",
			res:  &specs.LinuxResources{Memory: &specs.LinuxMemory{Kernel: i64(1 << 20)}},
			want: cgroups.Cgroup{Path: "/x", Resources: &cgroups.Resources{Devices: defaultRules()}},
			warn: "linux.resources.memory.kernel",
		},
		{
			name: "cpu",
			path: "/x",
			res: &specs.LinuxResources{CPU: &specs.LinuxCPU{
				Shares: u64(512), Quota: i64(50000), Period: u64(100000), RealtimeRuntime: i64(950), RealtimePeriod: u64(1000),
				Cpus: "0-1", Mems: "0", Idle: i64(1), Burst: u64(7)}},
			want: cgroups.Cgroup{Path: "/x", Resources: &cgroups.Resources{
				CpuShares: 512, CpuWeight: 59, CpuQuota: 50000, CpuPeriod: 100000, CpuRtRuntime: 950, CpuRtPeriod: 1000,
				CpusetCpus: "0-1", CpusetMems: "0", CPUIdle: i64(1), CpuBurst: u64(7), Devices: defaultRules()}},
		},
		{
			name: "pids",
			path: "/x",
			res:  &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: 42}},
			want: cgroups.Cgroup{Path: "/x", Resources: &cgroups.Resources{PidsLimit: i64(42), Devices: defaultRules()}},
		},
		{
			name: "block io",
			path: "/x",
			res: &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
				Weight: u16(300), LeafWeight: u16(200),
				WeightDevice:            []specs.LinuxWeightDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: u16(500), LeafWeight: u16(100)}},
				ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 1}, Rate: 1}},
				ThrottleWriteBpsDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 2}, Rate: 2}},
				ThrottleReadIOPSDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 3}, Rate: 3}},
				ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 4}, Rate: 4}},
			}},
			want: cgroups.Cgroup{Path: "/x", Resources: &cgroups.Resources{
				BlkioWeight: 300, BlkioLeafWeight: 200,
				BlkioWeightDevice:            []*cgroups.WeightDevice{{BlockIODevice: cgroups.BlockIODevice{Major: 8, Minor: 0}, Weight: 500, LeafWeight: 100}},
				BlkioThrottleReadBpsDevice:   []*cgroups.ThrottleDevice{{BlockIODevice: cgroups.BlockIODevice{Major: 8, Minor: 1}, Rate: 1}},
				BlkioThrottleWriteBpsDevice:  []*cgroups.ThrottleDevice{{BlockIODevice: cgroups.BlockIODevice{Major: 8, Minor: 2}, Rate: 2}},
				BlkioThrottleReadIOPSDevice:  []*cgroups.ThrottleDevice{{BlockIODevice: cgroups.BlockIODevice{Major: 8, Minor: 3}, Rate: 3}},
				BlkioThrottleWriteIOPSDevice: []*cgroups.ThrottleDevice{{BlockIODevice: cgroups.BlockIODevice{Major: 8, Minor: 4}, Rate: 4}},
				Devices:                      defaultRules()}},
		},
		{
			name: "hugepages, network, rdma, unified",
			path: "/x",
			res: &specs.LinuxResources{
				HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}},
				Network:        &specs.LinuxNetwork{ClassID: u32(0x100001), Priorities: []specs.LinuxInterfacePriority{{Name: "eth0", Priority: 5}}},
				Rdma:           map[string]specs.LinuxRdma{"mlx5_0": {HcaHandles: u32(3), HcaObjects: u32(4)}},
				Unified:        map[string]string{"memory.high": "1M"},
			},
			want: cgroups.Cgroup{Path: "/x", Resources: &cgroups.Resources{
				HugetlbLimit:     []*cgroups.HugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}},
				NetClsClassid:    0x100001,
				NetPrioIfpriomap: []*cgroups.IfPrioMap{{Interface: "eth0", Priority: 5}},
				Rdma:             map[string]cgroups.LinuxRdma{"mlx5_0": {HcaHandles: u32(3), HcaObjects: u32(4)}},
				Unified:          map[string]string{"memory.high": "1M"},
				Devices:          defaultRules()}},
		},
		{
			// A deny-all first in the config must not take away the
			// defaults: the devices cgroup applies rules in order, so the
			// config's go first and the runtime's after (runc's order).
			name: "config device rules before the defaults",
			path: "/x",
			res: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
				{Allow: false, Access: "rwm"}, {Allow: true, Type: "c", Major: i64(4), Minor: i64(64), Access: "rw"}}},
			want: cgroups.Cgroup{Path: "/x", Resources: &cgroups.Resources{Devices: append([]*devices.Rule{
				devRule(devices.WildcardDevice, devices.Wildcard, devices.Wildcard, "rwm", false),
				devRule(devices.CharDevice, 4, 64, "rw", true)}, defaultRules()...)}},
		},
		{
			name:    "bad device rule refused",
			path:    "/x",
			res:     &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Access: "r"}, {Allow: true, Type: "z", Access: "r"}}},
			wantErr: "linux.resources.devices[1].type",
		},
	} {
		s := &specs.Spec{Linux: &specs.Linux{CgroupsPath: tc.path, Devices: tc.devs, Resources: tc.res}}
		cg, warnings, err := cgroupConfig(s, "ctr", tc.unit)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || cg != nil {
				t.Errorf("%s: %v, %v; want error %q", tc.name, cg, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(*cg, tc.want) {
			t.Errorf("%s:\n got  %s\n want %s", tc.name, js2(cg), js2(tc.want))
		}
		gotWarn := strings.Join(warnings, "\n")
		if (tc.warn == "") != (gotWarn == "") || !strings.Contains(gotWarn, tc.warn) {
			t.Errorf("%s: warnings %q, want %q", tc.name, warnings, tc.warn)
		}
	}
}

// TestDeviceRules follows the runtime spec's linux.resources.devices: type
// a (or empty) is every device, c and u are character devices, b block, p
// fifo; an absent major or minor is the wildcard (-1, "*" in the cgroup's
// devices.allow syntax); access is rwm letters.
func TestDeviceRules(t *testing.T) {
	const w = devices.Wildcard
	for _, tc := range []struct {
		in      []specs.LinuxDeviceCgroup
		want    []*devices.Rule
		wantErr string
	}{
		{in: nil, want: nil},
		{in: []specs.LinuxDeviceCgroup{{Allow: false}}, want: []*devices.Rule{devRule(devices.WildcardDevice, w, w, "rwm", false)}},
		{in: []specs.LinuxDeviceCgroup{{Type: "a", Allow: true, Access: "m"}}, want: []*devices.Rule{devRule(devices.WildcardDevice, w, w, "m", true)}},
		{in: []specs.LinuxDeviceCgroup{{Type: "c", Major: i64(1), Minor: i64(3), Access: "rw", Allow: true}}, want: []*devices.Rule{devRule(devices.CharDevice, 1, 3, "rw", true)}},
		{in: []specs.LinuxDeviceCgroup{{Type: "u", Major: i64(5), Access: "r", Allow: true}}, want: []*devices.Rule{devRule(devices.CharDevice, 5, w, "r", true)}},
		{in: []specs.LinuxDeviceCgroup{{Type: "b", Minor: i64(0), Access: "wm", Allow: false}}, want: []*devices.Rule{devRule(devices.BlockDevice, w, 0, "wm", false)}},
		{in: []specs.LinuxDeviceCgroup{{Type: "p", Major: i64(0), Minor: i64(0), Access: "mr", Allow: true}}, want: []*devices.Rule{devRule(devices.FifoDevice, 0, 0, "rm", true)}},
		{
			in:   []specs.LinuxDeviceCgroup{{Type: "c", Major: i64(1), Minor: i64(5), Access: "r", Allow: true}, {Type: "b", Major: i64(8), Minor: i64(0), Access: "w", Allow: false}},
			want: []*devices.Rule{devRule(devices.CharDevice, 1, 5, "r", true), devRule(devices.BlockDevice, 8, 0, "w", false)},
		},
		{in: []specs.LinuxDeviceCgroup{{Type: "x", Allow: true}}, wantErr: `linux.resources.devices[0].type: unknown device type "x"`},
		{in: []specs.LinuxDeviceCgroup{{Type: "C", Allow: true}}, wantErr: `linux.resources.devices[0].type`},
		{in: []specs.LinuxDeviceCgroup{{Type: "c", Allow: true}, {Type: "c", Access: "rwx", Allow: true}}, wantErr: "linux.resources.devices[1].access"},
	} {
		got, err := deviceRules(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || got != nil {
				t.Errorf("%s: %s, %v; want error %q", js2(tc.in), js2(got), err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %s, %v; want %s", js2(tc.in), js2(got), err, js2(tc.want))
		}
	}
}
