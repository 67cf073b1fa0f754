package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestOwnedMappings(t *testing.T) {
	sub := []idRange{{100000, 65536}}
	for _, tc := range []struct {
		name string
		maps []specs.LinuxIDMapping
		want string // "" for no error
	}{
		{"own id", []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}, ""},
		{"own id and range", []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}}, ""},
		{"none", nil, "at least one mapping"},
		{"own id, two wide", []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 2}}, "uidMappings[0]: host ids 1000-1001 are not the caller's"},
		{"host root", []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 1}}, "uidMappings[0]: host ids 0-0"},
		{"past the range", []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100001, Size: 65536}}, "uidMappings[1]: host ids 100001-165536"},
		{"before the range", []specs.LinuxIDMapping{{ContainerID: 1, HostID: 99999, Size: 2}}, "uidMappings[0]"},
		{"size 0", []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 0}}, "size 0"},
	} {
		err := ownedMappings("uidMappings", tc.maps, 1000, sub, "/etc/subuid")
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestSubordinateIDs(t *testing.T) {
	f := filepath.Join(t.TempDir(), "subuid")
	os.WriteFile(f, []byte("other:100000:65536\n4321:200000:10\nbroken\n4321:x:1\n4321:300000:5\n"), 0o644)
	got, err := subordinateIDs(f, 4321)
	if err != nil || len(got) != 2 || got[0] != (idRange{200000, 10}) || got[1] != (idRange{300000, 5}) {
		t.Fatalf("%+v %v", got, err)
	}
	if got, err := subordinateIDs(filepath.Join(t.TempDir(), "none"), 4321); err != nil || got != nil {
		t.Fatalf("missing file: %+v %v", got, err)
	}
}
