package runtime

import (
	"encoding/json"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestMergeResources follows `runc update`: a field the update sets
// replaces the container's, a field it leaves out keeps its value (an
// empty cpuset string is "not set"), the pids limit is replaced whole,
// unified keys are merged one by one, and the device rules are never
// touched (update has no device flags; devices are fixed at create).
func TestMergeResources(t *testing.T) {
	for _, tc := range []struct {
		name           string
		dst, src, want string // linux.resources JSON
	}{
		{"empty update keeps all",
			`{"memory":{"limit":100,"swap":200},"cpu":{"shares":10,"cpus":"0"},"pids":{"limit":5}}`,
			`{}`,
			`{"memory":{"limit":100,"swap":200},"cpu":{"shares":10,"cpus":"0"},"pids":{"limit":5}}`},
		{"memory: set fields replace, others stay",
			`{"memory":{"limit":100,"reservation":50,"swap":200}}`,
			`{"memory":{"limit":300,"swappiness":10,"disableOOMKiller":true,"checkBeforeUpdate":true}}`,
			`{"memory":{"limit":300,"reservation":50,"swap":200,"swappiness":10,"disableOOMKiller":true,"checkBeforeUpdate":true}}`},
		{"memory into nothing",
			`{}`,
			`{"memory":{"kernel":1,"kernelTCP":2,"useHierarchy":false}}`,
			`{"memory":{"kernel":1,"kernelTCP":2,"useHierarchy":false}}`},
		{"cpu: empty cpuset strings are not set",
			`{"cpu":{"shares":10,"quota":1000,"period":100000,"cpus":"0-1","mems":"0"}}`,
			`{"cpu":{"quota":2000,"burst":5,"realtimeRuntime":7,"realtimePeriod":8,"idle":1,"cpus":"","mems":""}}`,
			`{"cpu":{"shares":10,"quota":2000,"burst":5,"period":100000,"realtimeRuntime":7,"realtimePeriod":8,"cpus":"0-1","mems":"0","idle":1}}`},
		{"cpu: cpuset replaced",
			`{"cpu":{"cpus":"0-1","mems":"0"}}`,
			`{"cpu":{"cpus":"1","mems":"1"}}`,
			`{"cpu":{"cpus":"1","mems":"1"}}`},
		{"pids replaced, -1 is a value",
			`{"pids":{"limit":5}}`,
			`{"pids":{"limit":-1}}`,
			`{"pids":{"limit":-1}}`},
		{"block io: weight kept, device lists replaced",
			`{"blockIO":{"weight":100,"leafWeight":20,"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1}],"throttleWriteBpsDevice":[{"major":8,"minor":0,"rate":9}]}}`,
			`{"blockIO":{"leafWeight":30,"throttleReadBpsDevice":[{"major":8,"minor":1,"rate":2}],"weightDevice":[{"major":8,"minor":0,"weight":10}],"throttleReadIOPSDevice":[{"major":8,"minor":0,"rate":3}],"throttleWriteIOPSDevice":[{"major":8,"minor":0,"rate":4}]}}`,
			`{"blockIO":{"weight":100,"leafWeight":30,"weightDevice":[{"major":8,"minor":0,"weight":10}],"throttleReadBpsDevice":[{"major":8,"minor":1,"rate":2}],"throttleWriteBpsDevice":[{"major":8,"minor":0,"rate":9}],"throttleReadIOPSDevice":[{"major":8,"minor":0,"rate":3}],"throttleWriteIOPSDevice":[{"major":8,"minor":0,"rate":4}]}}`},
		{"hugepages and network replaced whole",
			`{"hugepageLimits":[{"pageSize":"2MB","limit":1}],"network":{"classID":1,"priorities":[{"name":"a","priority":1}]}}`,
			`{"hugepageLimits":[{"pageSize":"1GB","limit":2}],"network":{"classID":2}}`,
			`{"hugepageLimits":[{"pageSize":"1GB","limit":2}],"network":{"classID":2}}`},
		{"unified merged key by key",
			`{"unified":{"memory.high":"1M","pids.max":"10"}}`,
			`{"unified":{"memory.high":"2M","io.weight":"50"}}`,
			`{"unified":{"memory.high":"2M","pids.max":"10","io.weight":"50"}}`},
		{"unified into nothing",
			`{}`,
			`{"unified":{"cpu.max":"max"}}`,
			`{"unified":{"cpu.max":"max"}}`},
		{"devices never change",
			`{"devices":[{"allow":false,"access":"rwm"}]}`,
			`{"devices":[{"allow":true,"access":"rwm"}],"memory":{"limit":1}}`,
			`{"devices":[{"allow":false,"access":"rwm"}],"memory":{"limit":1}}`},
	} {
		var dst, src, want specs.LinuxResources
		for _, p := range []struct {
			s string
			v *specs.LinuxResources
		}{{tc.dst, &dst}, {tc.src, &src}, {tc.want, &want}} {
			if err := json.Unmarshal([]byte(p.s), p.v); err != nil {
				t.Fatalf("%s: %s: %v", tc.name, p.s, err)
			}
		}
		mergeResources(&dst, &src)
		if !reflect.DeepEqual(dst, want) {
			t.Errorf("%s:\n got  %s\n want %s", tc.name, js2(dst), js2(want))
		}
	}
}

// The merged value is a copy: changing the update afterwards (the decoded
// request is not kept) must not reach the container's recorded resources.
func TestMergeResourcesCopies(t *testing.T) {
	limit := int64(7)
	var dst specs.LinuxResources
	mergeResources(&dst, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}})
	limit = 8
	if got := *dst.Memory.Limit; got != 7 {
		t.Fatalf("limit %d after the source changed, want 7", got)
	}
}
