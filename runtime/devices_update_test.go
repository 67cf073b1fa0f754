package runtime

import "testing"

func TestDeviceAccess(t *testing.T) {
	for _, tc := range []struct {
		access string
		allow  bool
		want   string
		err    bool
	}{
		{"", true, "rwm", false}, {"rw", true, "rw", false}, {"wr", false, "rw", false}, {"mrw", true, "rwm", false},
		{"rwa", false, "rwm", false}, {"rwa", true, "rw", false}, {"a", true, "", true},
		{"rwx", true, "", true}, {"rwx", false, "", true},
	} {
		got, err := deviceAccess(tc.access, tc.allow)
		if (err != nil) != tc.err || string(got) != tc.want {
			t.Errorf("%q allow=%v: %q %v, want %q", tc.access, tc.allow, got, err, tc.want)
		}
	}
}
