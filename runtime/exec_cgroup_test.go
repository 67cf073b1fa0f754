package runtime

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseSubCgroups(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want map[string]string
		err  string
	}{
		{nil, nil, ""},
		{[]string{"sub"}, map[string]string{"": "sub"}, ""},
		{[]string{"memory:sub"}, map[string]string{"memory": "sub"}, ""},
		{[]string{"memory,pids:a/b", "cpu:/c"}, map[string]string{"memory": "a/b", "pids": "a/b", "cpu": "/c"}, ""},
		{[]string{"sub", "memory:x"}, nil, "cannot be combined"},
		{[]string{"memory:a", "memory:b"}, nil, "given twice"},
		{[]string{"memory:a:b"}, nil, "want [CONTROLLER"},
		{[]string{":sub", "memory:x"}, nil, "cannot be combined"},
	} {
		got, err := ParseSubCgroups(tc.args)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: error %v, want %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%v: %v %v, want %v", tc.args, got, err, tc.want)
		}
	}
}

func TestExecCgroupPaths(t *testing.T) {
	base := map[string]string{"memory": "/sys/fs/cgroup/memory/c", "pids": "/sys/fs/cgroup/pids/c"}
	for _, tc := range []struct {
		sub  map[string]string
		want map[string]string
		err  string
	}{
		{nil, base, ""},
		{map[string]string{"": "s"}, map[string]string{"memory": "/sys/fs/cgroup/memory/c/s", "pids": "/sys/fs/cgroup/pids/c/s"}, ""},
		{map[string]string{"memory": "/s/t"}, map[string]string{"memory": "/sys/fs/cgroup/memory/c/s/t", "pids": "/sys/fs/cgroup/pids/c"}, ""},
		{map[string]string{"memory": "/"}, base, ""},
		{map[string]string{"memory": "a/../b"}, map[string]string{"memory": "/sys/fs/cgroup/memory/c/b", "pids": "/sys/fs/cgroup/pids/c"}, ""},
		{map[string]string{"": ".."}, nil, "not a sub cgroup path"},
		{map[string]string{"memory": "a/../../c2"}, nil, "not a sub cgroup path"},
		{map[string]string{"memory": "/../c2"}, nil, "not a sub cgroup path"},
		{map[string]string{"cpu": "s"}, nil, "unknown controller cpu"},
	} {
		got, err := execCgroupPaths(base, tc.sub)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: error %v, want %q", tc.sub, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%v: %v %v, want %v", tc.sub, got, err, tc.want)
		}
	}
}
