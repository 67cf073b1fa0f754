package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
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
		if cgroupV2() {
			s.Process.Args[2] = "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; grep '^0::' /proc/self/cgroup"
		}
	})
	r := e.must("run", "--bundle", b, "cg")
	// The hierarchy number before ":memory:" differs between machines; v2
	// has the one hierarchy, 0.
	self := ":memory:/\n"
	if cgroupV2() {
		self = "\n0::/\n"
	}
	if !strings.HasPrefix(r.stdout, "67108864\n20\n") || !strings.HasSuffix(r.stdout, self) {
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
	pidsDir := controllerDir("cgd", "pids")
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
	e.mustFail(t, "cpuset.cpus", "create", "--bundle", b, "badres")
	e.noLeftovers("badres")
}

// TestDeviceRulesInOrderAndKernelTCP: the devices cgroup lists the config's
// rules first and in their order (runtime spec), then rung's defaults; the
// TCP buffer limit, which cgroup v1 still enforces, is set. On cgroup v2,
// which has no TCP buffer limit, the field is refused, and the rules (an
// eBPF program there, not a list to read) are checked by their effect.
func TestDeviceRulesInOrderAndKernelTCP(t *testing.T) {
	e := newEnv(t)
	major, minor, tcp := int64(10), int64(229), int64(32<<20)
	v2 := cgroupV2()
	b := e.bundle("b", "strict", func(s *specs.Spec) {
		sleeper(s)
		s.Linux.Resources.Devices = append(s.Linux.Resources.Devices,
			specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: &major, Minor: &minor, Access: "rwm"})
		s.Linux.Resources.Memory = &specs.LinuxMemory{KernelTCP: &tcp}
	})
	if v2 {
		e.mustFail(t, "kernelTCP", "run", "-d", "--bundle", b, "dev")
		e.noLeftovers("dev")
		e.editSpec(b, func(s *specs.Spec) { s.Linux.Resources.Memory = nil })
	}
	// Nodes made by the host in the rootfs: fuse (allowed by the config's
	// rule) and kmsg (allowed by no rule; its write open needs no
	// capability, so only the devices cgroup can refuse it).
	for name, dev := range map[string]int{"fuse": int(unix.Mkdev(10, 229)), "kmsg": int(unix.Mkdev(1, 11))} {
		if err := unix.Mknod(filepath.Join(b, "rootfs/tmp", name), unix.S_IFCHR|0o666, dev); err != nil {
			t.Fatal(err)
		}
	}
	e.must("run", "-d", "--bundle", b, "dev")
	if !v2 {
		var devDir, memDir string
		for _, d := range cgroupDirs("dev") {
			switch {
			case strings.HasPrefix(d, "/sys/fs/cgroup/devices/"):
				devDir = d
			case strings.HasPrefix(d, "/sys/fs/cgroup/memory/"):
				memDir = d
			}
		}
		list, err := os.ReadFile(filepath.Join(devDir, "devices.list"))
		if err != nil || !strings.HasPrefix(string(list), "c 10:229 rwm\nc *:* m\nb *:* m\nc 1:3 rwm\n") {
			t.Fatalf("devices.list %v:\n%s", err, list)
		}
		if data, err := os.ReadFile(filepath.Join(memDir, "memory.kmem.tcp.limit_in_bytes")); err != nil || string(data) != "33554432\n" {
			t.Fatalf("kmem.tcp limit: %q %v", data, err)
		}
	}
	// The default devices stay usable after the config's rules.
	r := e.must("exec", "dev", "sh", "-c", "echo ok > /dev/null && echo null-ok")
	if !strings.Contains(r.stdout, "null-ok") {
		t.Fatalf("inside: %q", r.stdout)
	}
	r = e.rung("exec", "dev", "sh", "-c", ": < /tmp/fuse && echo fuse-ok; echo x > /tmp/kmsg && echo kmsg-written")
	if !strings.Contains(r.stdout, "fuse-ok") || strings.Contains(r.stdout, "kmsg-written") || !strings.Contains(r.stderr, "Operation not permitted") {
		t.Fatalf("device rules in effect: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	e.must("delete", "-f", "dev")
	e.noLeftovers("dev")
}

// Without a cgroup namespace the container's /sys/fs/cgroup shows its own
// cgroup, not the host's hierarchies (podman on cgroup v1 runs so).
func TestCgroupMountWithoutCgroupNamespace(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "strict", func(s *specs.Spec) {
		var ns []specs.LinuxNamespace
		for _, n := range s.Linux.Namespaces {
			if n.Type != specs.CgroupNamespace {
				ns = append(ns, n)
			}
		}
		s.Linux.Namespaces = ns
		s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: 42}}
		s.Process.Args = []string{"sh", "-c", "cat /sys/fs/cgroup/pids/pids.max; ls /sys/fs/cgroup/pids | grep -c '^user.slice\\|^system.slice\\|^process_api' ; touch /sys/fs/cgroup/pids/x 2>&1"}
		if cgroupV2() {
			s.Process.Args[2] = "cat /sys/fs/cgroup/pids.max; ls /sys/fs/cgroup | grep -c '^user.slice\\|^system.slice\\|^process_api' ; touch /sys/fs/cgroup/x 2>&1"
		}
	})
	r := e.rung("run", "--bundle", b, "c")
	if !strings.HasPrefix(r.stdout, "42\n0\n") || !strings.Contains(r.stdout, "Read-only file system") {
		t.Fatalf("cgroup mount without a cgroup namespace: %q %s", r.stdout, r.stderr)
	}
	e.noLeftovers("c")
}

// TestCgroupInUseRefused: a cgroupsPath naming a cgroup that already holds
// processes is refused (runc's words): the container would own someone
// else's processes, and kill --all or delete would kill them.
func TestCgroupInUseRefused(t *testing.T) {
	e := newEnv(t)
	name := fmt.Sprintf("rung-test-in-use-%d", os.Getpid())
	path := testCgroupsPath(name)
	b := e.bundle("a", "strict", func(s *specs.Spec) { s.Linux.CgroupsPath = path; sleeper(s) })
	e.must("run", "-d", "--bundle", b, "a")
	pid := e.state("a").Pid
	b = e.bundle("b", "strict", func(s *specs.Spec) { s.Linux.CgroupsPath = path; sleeper(s) })
	failed(t, "create in a cgroup in use", e.rung("create", "--bundle", b, "b"), "container's cgroup is not empty: 1 process(es) found")
	if st := e.state("a"); st.Status != specs.StateRunning || st.Pid != pid {
		t.Errorf("the first container after the refused create: %s pid %d", st.Status, st.Pid)
	}
	if _, err := os.Stat(filepath.Join(e.root, "b")); !os.IsNotExist(err) {
		t.Errorf("state directory of the refused container left behind (%v)", err)
	}
	e.must("delete", "-f", "a")
	e.noLeftovers("a")
	e.noLeftovers("b")
	dirs := cgroupDirs(name)
	if systemdManager() {
		dirs = []string{"/sys/fs/cgroup/system.slice/rungtest-" + name + ".scope"}
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("cgroup %s left behind", d)
		}
	}
}

// TestKilledCreateLeavesNoCgroup: rung SIGKILLed just after it made the
// container's cgroup (and moved init there) leaves a state directory that
// records the cgroup; delete removes the cgroup and kills what is in it,
// instead of reporting success over a leaked cgroup.
func TestKilledCreateLeavesNoCgroup(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "strict", sleeper)
	cmd := exec.Command(rungBin, "--root", e.root, "create", "--bundle", b, "k")
	cmd.Env = append(os.Environ(), "RUNG_TEST_KILL_AT=cgroup")
	if r := run(cmd); r.code != -1 || !strings.Contains(r.stderr, "killed") {
		t.Fatalf("create with a kill point: exit %d %q, want it killed", r.code, r.stderr)
	}
	// Under systemd the scope goes by itself once init, left without
	// rung, exits: what must stay is the record of it.
	if _, err := os.Stat(filepath.Join(e.root, "k", "cgroup.json")); err != nil {
		t.Fatalf("no cgroup record in the killed create's state directory: %v", err)
	}
	made := systemdManager()
	for _, d := range cgroupDirs("k") {
		if _, err := os.Stat(d); err == nil {
			made = true
		}
	}
	if !made {
		t.Fatal("the kill point came before the cgroup was made")
	}
	failed(t, "state of a killed create", e.rung("state", "k"), "container does not exist")
	e.must("delete", "--force", "k")
	e.noLeftovers("k")
}
