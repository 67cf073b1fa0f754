package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// userSession starts the user's own systemd instance, as a lingering
// user's is on a systemd host (loginctl enable-linger), and points the
// user's commands at it: its runtime directory and its bus. The cgroup
// v2 subtree systemd delegates to it (user@UID.service, Delegate=yes) is
// where a rootless container's limits can apply.
func (r *rootless) userSession() (runDir string) {
	t := r.t
	t.Helper()
	if out, err := exec.Command("loginctl", "enable-linger", r.name).CombinedOutput(); err != nil {
		t.Fatalf("loginctl enable-linger: %v %s", err, out)
	}
	unit := fmt.Sprintf("user@%d.service", r.uid)
	t.Cleanup(func() {
		exec.Command("loginctl", "disable-linger", r.name).Run()
		exec.Command("systemctl", "stop", unit).Run()
	})
	runDir = fmt.Sprintf("/run/user/%d", r.uid)
	deadline := time.Now().Add(60 * time.Second)
	for {
		active := exec.Command("systemctl", "is-active", "-q", unit).Run() == nil
		if _, err := os.Stat(filepath.Join(runDir, "bus")); active && err == nil {
			break
		}
		if time.Now().After(deadline) {
			out, _ := exec.Command("systemctl", "status", "--no-pager", unit).CombinedOutput()
			t.Fatalf("%s did not start with its bus in 60 s:\n%s", unit, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.extraEnv = append(r.extraEnv, "XDG_RUNTIME_DIR="+runDir, "DBUS_SESSION_BUS_ADDRESS=unix:path="+runDir+"/bus")
	r.root = filepath.Join(runDir, "rung")
	return runDir
}

// userUnitProps reads a unit of the user's systemd instance, as the user.
func (r *rootless) userUnitProps(unit string, props ...string) map[string]string {
	r.t.Helper()
	c := r.cmd("systemctl", "--user", "show", "-p", strings.Join(props, ","), unit)
	out, err := c.Output()
	if err != nil {
		r.t.Fatalf("systemctl --user show %s: %v", unit, err)
	}
	return parseProps(out)
}

// TestRootlessSystemd: on a systemd host with cgroup v2, --systemd-cgroup
// as an unprivileged user goes through the user's own systemd instance
// (the user bus): a transient scope in its user.slice, delegated, whose
// limits really apply, that update changes, that pause freezes, and that
// delete removes with its cgroup. runc, run by the same user on the same
// bundle, sees the same limit. Without systemd the flag is one clear
// error and leaves nothing.
func TestRootlessSystemd(t *testing.T) {
	r := newRootless(t)
	limit, pids := int64(64<<20), int64(40)
	withLimits := func(s *specs.Spec) {
		s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}, Pids: &specs.LinuxPids{Limit: pids}}
	}
	id := fmt.Sprintf("rlsd-%d", os.Getpid())
	if !systemdHost() || !cgroupV2() {
		b := r.bundle("b", func(s *specs.Spec) { withLimits(s); s.Process.Args = []string{"sleep", "1000"} })
		res := r.as("--systemd-cgroup", "create", "--bundle", b, id)
		if res.code == 0 || !strings.Contains(res.stderr, "systemd not running on this host") {
			t.Fatalf("rootless --systemd-cgroup without systemd: exit %d %q", res.code, res.stderr)
		}
		r.noLeftovers(id)
		return
	}
	runDir := r.userSession()
	b := r.bundle("b", func(s *specs.Spec) { withLimits(s); s.Process.Args = []string{"sleep", "1000"} })
	r.mustAs("--systemd-cgroup", "create", "--bundle", b, id)
	unit := "rung-" + id + ".scope"
	cgDir := fmt.Sprintf("/sys/fs/cgroup/user.slice/user-%d.slice/user@%d.service/user.slice/%s", r.uid, r.uid, unit)
	p := r.userUnitProps(unit, "ActiveState", "Delegate", "MemoryMax", "TasksMax", "ControlGroup")
	if p["ActiveState"] != "active" || p["Delegate"] != "yes" || p["MemoryMax"] != fmt.Sprint(limit) || p["TasksMax"] != fmt.Sprint(pids) {
		t.Errorf("user unit %s: %v", unit, p)
	}
	if want := strings.TrimPrefix(cgDir, "/sys/fs/cgroup"); p["ControlGroup"] != want {
		t.Errorf("user unit %s control group %q, want %q", unit, p["ControlGroup"], want)
	}
	readCg := func(file string) string { return readCgroupFile(t, cgDir, file) }
	if got := readCg("memory.max"); got != fmt.Sprint(limit) {
		t.Errorf("memory.max %q", got)
	}
	if got := readCg("pids.max"); got != fmt.Sprint(pids) {
		t.Errorf("pids.max %q", got)
	}
	st := r.state(id)
	if data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", st.Pid)); !strings.Contains(string(data), "0::"+strings.TrimPrefix(cgDir, "/sys/fs/cgroup")+"\n") {
		t.Errorf("init's cgroup: %q", data)
	}
	r.mustAs("start", id)
	// Inside, the container's own cgroup2 (its cgroup namespace) shows it.
	if out := r.mustAs("exec", id, "cat", "/sys/fs/cgroup/memory.max").stdout; strings.TrimSpace(out) != fmt.Sprint(limit) {
		t.Errorf("memory.max inside: %q", out)
	}
	r.mustAs("update", "--memory", "32M", id)
	if p := r.userUnitProps(unit, "MemoryMax"); p["MemoryMax"] != fmt.Sprint(32<<20) {
		t.Errorf("user unit after update: %v", p)
	}
	if got := readCg("memory.max"); got != fmt.Sprint(32<<20) {
		t.Errorf("memory.max after update %q", got)
	}
	r.mustAs("pause", id)
	if st := r.state(id); st.Status != "paused" {
		t.Errorf("after pause: %s", st.Status)
	}
	r.mustAs("resume", id)
	if st := r.state(id); st.Status != specs.StateRunning {
		t.Errorf("after resume: %s", st.Status)
	}
	// events reads the delegated cgroup's stats: the limit update set.
	var ev statsEvent
	if out := r.mustAs("events", "--stats", id).stdout; json.Unmarshal([]byte(out), &ev) != nil || ev.Type != "stats" || ev.Data.Memory.Usage.Limit != 32<<20 {
		t.Errorf("events --stats: %q", out)
	}
	if ps := r.mustAs("ps", id).stdout; !strings.Contains(ps, "sleep 1000") {
		t.Errorf("ps:\n%s", ps)
	}
	r.mustAs("delete", "--force", id)
	if p := r.userUnitProps(unit, "LoadState", "ActiveState"); p["LoadState"] != "not-found" && p["ActiveState"] != "inactive" {
		t.Errorf("user unit %s left behind: %v", unit, p)
	}
	if _, err := os.Stat(cgDir); err == nil {
		t.Errorf("cgroup %s left behind", cgDir)
	}
	r.noLeftovers(id)

	// runc, as the same user, on the same kind of bundle: the same limit.
	b2 := r.bundle("b2", func(s *specs.Spec) { withLimits(s); s.Process.Args = []string{"cat", "/sys/fs/cgroup/memory.max"} })
	got := r.mustAs("--systemd-cgroup", "run", "--bundle", b2, id+"-run").stdout
	c := r.cmd("runc", "--root", filepath.Join(runDir, "runc"), "--systemd-cgroup", "run", "--bundle", b2, id+"-runc")
	out, err := c.Output()
	if err != nil {
		t.Fatalf("runc --systemd-cgroup run as the user: %v %s", err, out)
	}
	if strings.TrimSpace(got) != fmt.Sprint(limit) || strings.TrimSpace(string(out)) != strings.TrimSpace(got) {
		t.Errorf("memory.max inside: rung %q, runc %q", got, out)
	}
	r.noLeftovers(id + "-run")
}
