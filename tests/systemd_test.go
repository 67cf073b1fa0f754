package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// systemdHost: systemd is PID 1 here (sd_booted's test). The cgroup v1
// development machine has none; the VM of tests/vm boots with it.
func systemdHost() bool {
	fi, err := os.Lstat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

// unitProps reads a unit's properties through systemctl, as an operator
// would check them.
func unitProps(t *testing.T, unit string, props ...string) map[string]string {
	t.Helper()
	out, err := exec.Command("systemctl", "show", "-p", strings.Join(props, ","), unit).Output()
	if err != nil {
		t.Fatalf("systemctl show %s: %v", unit, err)
	}
	return parseProps(out)
}

// parseProps reads systemctl show's KEY=VALUE lines.
func parseProps(out []byte) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

// readCgroupFile is a cgroup file's value, trimmed; a read error fails
// the test (and reads as "").
func readCgroupFile(t *testing.T, dir, file string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Errorf("read %s: %v", file, err)
	}
	return strings.TrimSpace(string(data))
}

// noUnit fails unless the unit is gone: not loaded, and its cgroup removed.
func noUnit(t *testing.T, unit, cgroupDir string) {
	t.Helper()
	if p := unitProps(t, unit, "LoadState", "ActiveState"); p["LoadState"] != "not-found" && p["ActiveState"] != "inactive" {
		t.Errorf("unit %s left behind: %v", unit, p)
	}
	if _, err := os.Stat(cgroupDir); err == nil {
		t.Errorf("cgroup %s left behind", cgroupDir)
	}
}

// TestSystemdCgroupsPathRefused: under the systemd manager a cgroupsPath
// must be runc's "slice:prefix:name"; anything else is one clear error
// before any unit or process exists, on any host.
func TestSystemdCgroupsPathRefused(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ path, want string }{
		{"/not/systemd", `slice:prefix:name`},
		{"a:b", `slice:prefix:name`},
		{"bad:rung:x", "slice: invalid slice name: bad"},
		{"-a.slice:rung:x", "slice: invalid slice name"},
		{"system.slice:rung:", "empty unit name"},
		{"system.slice:rung:../x", `invalid name`},
		{"system.slice:a/b:x", `invalid prefix`},
	} {
		b := e.bundle("b", "strict", func(s *specs.Spec) { s.Linux.CgroupsPath = tc.path; sleeper(s) })
		r := e.rung("--systemd-cgroup", "create", "--bundle", b, "c")
		failed(t, fmt.Sprintf("cgroupsPath %q", tc.path), r, "linux.cgroupsPath", tc.want)
		if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("cgroupsPath %q: want one line of error, got %q", tc.path, r.stderr)
		}
		e.noLeftovers("c")
		os.RemoveAll(b)
	}
}

// TestSystemdCgroupManager: with --systemd-cgroup (and crun's
// --cgroup-manager systemd) the container's cgroup is a transient scope
// that systemd created with Delegate=yes, its limits are both unit
// properties and cgroup files, update changes both, pause freezes it, and
// delete leaves no unit and no cgroup. Where systemd is not running, the
// flag is one clear error that leaves nothing.
func TestSystemdCgroupManager(t *testing.T) {
	e := newEnv(t)
	limit, pids := int64(48<<20), int64(33)
	b := e.bundle("b", "strict", func(s *specs.Spec) {
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit}
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: pids}
		sleeper(s)
	})
	if !systemdHost() {
		for _, flags := range [][]string{{"--systemd-cgroup"}, {"--cgroup-manager", "systemd"}} {
			r := e.rung(append(flags, "create", "--bundle", b, "sd")...)
			failed(t, fmt.Sprintf("%v without systemd", flags), r, "systemd not running on this host")
			e.noLeftovers("sd")
		}
		return
	}
	id := fmt.Sprintf("sd-%d", os.Getpid())
	unit := "rung-" + id + ".scope"
	cgDir := "/sys/fs/cgroup/system.slice/" + unit
	e.must("--systemd-cgroup", "run", "-d", "--bundle", b, id)
	p := unitProps(t, unit, "ActiveState", "Delegate", "MemoryMax", "TasksMax", "ControlGroup")
	if p["ActiveState"] != "active" || p["Delegate"] != "yes" || p["MemoryMax"] != fmt.Sprint(limit) || p["TasksMax"] != fmt.Sprint(pids) {
		t.Errorf("unit %s: %v", unit, p)
	}
	if p["ControlGroup"] != "/system.slice/"+unit {
		t.Errorf("unit %s control group %q", unit, p["ControlGroup"])
	}
	readCg := func(file string) string { return readCgroupFile(t, cgDir, file) }
	if got := readCg("memory.max"); got != fmt.Sprint(limit) {
		t.Errorf("memory.max %q", got)
	}
	if got := readCg("pids.max"); got != fmt.Sprint(pids) {
		t.Errorf("pids.max %q", got)
	}
	initPid := e.state(id).Pid
	if data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", initPid)); !strings.Contains(string(data), "0::/system.slice/"+unit+"\n") {
		t.Errorf("init's cgroup: %q", data)
	}

	// update goes through both: the unit keeps the new value.
	e.must("update", "--memory", "64M", "--pids-limit", "44", id)
	p = unitProps(t, unit, "MemoryMax", "TasksMax")
	if p["MemoryMax"] != fmt.Sprint(64<<20) || p["TasksMax"] != "44" {
		t.Errorf("unit after update: %v", p)
	}
	if got := readCg("memory.max"); got != fmt.Sprint(64<<20) {
		t.Errorf("memory.max after update %q", got)
	}

	e.must("pause", id)
	if st := e.state(id); st.Status != "paused" {
		t.Errorf("after pause: %s", st.Status)
	}
	if got := readCg("cgroup.freeze"); got != "1" {
		t.Errorf("cgroup.freeze %q while paused", got)
	}
	e.must("resume", id)
	if st := e.state(id); st.Status != specs.StateRunning {
		t.Errorf("after resume: %s", st.Status)
	}

	e.must("delete", "--force", id)
	noUnit(t, unit, cgDir)
	e.noLeftovers(id)

	// runc's "slice:prefix:name", in another slice, through crun's flag.
	b = e.bundle("m", "strict", func(s *specs.Spec) {
		s.Linux.CgroupsPath = "machine.slice:rungtest:" + id
		sleeper(s)
	})
	e.must("--cgroup-manager", "systemd", "run", "-d", "--bundle", b, id)
	unit = "rungtest-" + id + ".scope"
	if p := unitProps(t, unit, "ActiveState", "Slice"); p["ActiveState"] != "active" || p["Slice"] != "machine.slice" {
		t.Errorf("unit %s: %v", unit, p)
	}
	e.must("kill", id, "KILL")
	e.waitStatus(id, specs.StateStopped)
	e.must("delete", id)
	noUnit(t, unit, "/sys/fs/cgroup/machine.slice/"+unit)
	e.noLeftovers(id)
}
