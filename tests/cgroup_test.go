package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestCgroupLimitsInEffect: memory and pids limits are set on the
// container's own cgroup, visible as the root of its cgroup namespace, and
// the cgroup is gone after delete.
func TestCgroupLimitsInEffect(t *testing.T) {
	e := newEnv(t)
	limit, pids := int64(64<<20), int64(20)
	b := e.bundle("b", "strict", func(s *specs.Spec) {
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit}
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: pids}
		s.Process.Args = []string{"sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; grep memory /proc/self/cgroup"}
	})
	r := e.must("run", "--bundle", b, "cg")
	// The hierarchy number before ":memory:" differs between machines.
	if !strings.HasPrefix(r.stdout, "67108864\n20\n") || !strings.HasSuffix(r.stdout, ":memory:/\n") {
		t.Fatalf("inside the container:\n%s", r.stdout)
	}
	e.noLeftovers("cg")

	// A detached container: the limit is visible from the host too, and
	// delete --force removes the cgroup.
	b = e.bundle("d", "strict", func(s *specs.Spec) {
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: pids}
		sleeper(s)
	})
	e.must("run", "-d", "--bundle", b, "cgd")
	var pidsDir string
	for _, d := range cgroupDirs("cgd") {
		if strings.HasPrefix(d, "/sys/fs/cgroup/pids/") {
			pidsDir = d
		}
	}
	if data, err := os.ReadFile(filepath.Join(pidsDir, "pids.max")); err != nil || string(data) != "20\n" {
		t.Fatalf("pids.max of %s: %q %v", pidsDir, data, err)
	}
	e.must("delete", "-f", "cgd")
	e.noLeftovers("cgd")
}

func TestFailedCreateLeavesNoCgroup(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "strict", func(s *specs.Spec) { s.Process.Args = []string{"/no/such/binary"} })
	if r := e.rung("create", "--bundle", b, "fail"); r.code == 0 {
		t.Fatal("create of a missing binary succeeded")
	}
	e.noLeftovers("fail")
	bad := int64(-5)
	b = e.bundle("bad", "strict", func(s *specs.Spec) {
		s.Linux.Resources.CPU = &specs.LinuxCPU{Quota: &bad, Cpus: "999"}
	})
	if r := e.rung("create", "--bundle", b, "badres"); r.code == 0 || !strings.Contains(r.stderr, "cpuset.cpus") {
		t.Fatalf("create with an impossible cpuset: exit %d %s", r.code, r.stderr)
	}
	e.noLeftovers("badres")
}
