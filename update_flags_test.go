package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
)

// updateFlags parses args with `update`'s own flags, as the CLI would,
// and returns what updateResources makes of them. (The one place that
// knows the CLI library's API.)
func updateFlags(t *testing.T, args ...string) (*specs.LinuxResources, error) {
	t.Helper()
	var got *specs.LinuxResources
	var gotErr error
	app := cli.NewApp()
	app.Commands = []*cli.Command{{
		Name:  "update",
		Flags: updateCommand.Flags,
		Action: func(c *cli.Context) error {
			got, gotErr = updateResources(c)
			return nil
		},
	}}
	if err := app.Run(append([]string{"rung", "update"}, args...)); err != nil {
		t.Fatalf("update %q: parse: %v", args, err)
	}
	return got, gotErr
}

// TestUpdateResources follows `runc update`: each flag sets one field;
// sizes take units (docker/go-units RAMInBytes: k, m, g are powers of
// 1024) or -1 for unlimited; the unsigned flags refuse negatives; the
// blkio weight is 16-bit; a flag overrides the same field of --resources
// and leaves its others; kernel memory is accepted and dropped (Linux no
// longer enforces it); Intel RDT is refused.
func TestUpdateResources(t *testing.T) {
	dir := t.TempDir()
	resFile := filepath.Join(dir, "res.json")
	if err := os.WriteFile(resFile, []byte(`{"memory":{"limit":1000,"swap":5000},"cpu":{"shares":100},"pids":{"limit":3}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	badFile := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(badFile, []byte(`{"memory":`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args    []string
		want    string // linux.resources JSON
		wantErr string
	}{
		{nil, `{}`, ""},
		{[]string{"--memory", "100m"}, `{"memory":{"limit":104857600}}`, ""},
		{[]string{"--memory=1g"}, `{"memory":{"limit":1073741824}}`, ""},
		{[]string{"--memory", "4096"}, `{"memory":{"limit":4096}}`, ""},
		{[]string{"--memory", "-1"}, `{"memory":{"limit":-1}}`, ""},
		{[]string{"--memory-reservation", "512k", "--memory-swap", "-1"}, `{"memory":{"reservation":524288,"swap":-1}}`, ""},
		{[]string{"--kernel-memory-tcp", "1m"}, `{"memory":{"kernelTCP":1048576}}`, ""},
		{[]string{"--kernel-memory", "1m"}, `{"memory":{}}`, ""},
		{[]string{"--memory", "lots"}, "", `--memory: invalid value "lots"`},
		{[]string{"--memory-swap", "-2"}, "", `--memory-swap: invalid value "-2"`},
		{[]string{"--cpu-share", "512", "--cpu-period", "100000", "--cpu-quota", "-1"}, `{"cpu":{"shares":512,"quota":-1,"period":100000}}`, ""},
		{[]string{"--cpu-rt-period", "1000", "--cpu-rt-runtime", "950", "--cpu-idle", "1"}, `{"cpu":{"realtimeRuntime":950,"realtimePeriod":1000,"idle":1}}`, ""},
		{[]string{"--cpuset-cpus", "0-1", "--cpuset-mems", "0"}, `{"cpu":{"cpus":"0-1","mems":"0"}}`, ""},
		{[]string{"--cpu-period", "-5"}, "", `--cpu-period: invalid value "-5"`},
		{[]string{"--cpu-share", "abc"}, "", `--cpu-share: invalid value "abc"`},
		{[]string{"--cpu-quota", "1.5"}, "", `--cpu-quota: invalid value "1.5"`},
		{[]string{"--blkio-weight", "500"}, `{"blockIO":{"weight":500}}`, ""},
		{[]string{"--blkio-weight", "65536"}, "", `--blkio-weight: invalid value "65536"`},
		{[]string{"--pids-limit", "9"}, `{"pids":{"limit":9}}`, ""},
		{[]string{"--pids-limit", "-1"}, `{"pids":{"limit":-1}}`, ""},
		{[]string{"--l3-cache-schema", "L3:0=f"}, "", "--l3-cache-schema: Intel RDT is not supported"},
		{[]string{"--mem-bw-schema", "MB:0=20"}, "", "--mem-bw-schema: Intel RDT is not supported"},
		{[]string{"--resources", resFile}, `{"memory":{"limit":1000,"swap":5000},"cpu":{"shares":100},"pids":{"limit":3}}`, ""},
		{[]string{"-r", resFile, "--memory", "2000", "--pids-limit", "4"}, `{"memory":{"limit":2000,"swap":5000},"cpu":{"shares":100},"pids":{"limit":4}}`, ""},
		{[]string{"--resources", filepath.Join(dir, "none.json")}, "", "--resources: open"},
		{[]string{"--resources", badFile}, "", "--resources: parse"},
	} {
		got, err := updateFlags(t, tc.args...)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: %s, %v; want error %q", tc.args, js(got), err, tc.wantErr)
			}
			continue
		}
		var want specs.LinuxResources
		if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
			t.Fatal(err)
		}
		if err != nil || !reflect.DeepEqual(*got, want) {
			t.Errorf("%q: %s, %v; want %s", tc.args, js(got), err, tc.want)
		}
	}
}

func js(v any) string { b, _ := json.Marshal(v); return string(b) }
