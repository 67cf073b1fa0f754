package engines

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The host's shape decides the engines' configuration. A stock modern
// host (Debian 12, Ubuntu 22.04+, Fedora, RHEL 9) boots systemd as PID 1
// on a pure cgroup v2 hierarchy, and there every engine's stock setting
// is the systemd cgroup manager: podman's cgroup_manager = "systemd",
// dockerd's native.cgroupdriver=systemd, containerd's SystemdCgroup =
// true. Elsewhere (the cgroup v1 development machine, without systemd)
// the engines use cgroupfs, as they must.
var (
	cgroup2     bool // /sys/fs/cgroup is the unified hierarchy
	systemdHost bool // systemd is PID 1 and cgroup2: the systemd configs
)

func detectHost() {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	cgroup2 = err == nil
	// sd_booted(3)'s test.
	fi, err := os.Lstat("/run/systemd/system")
	systemdHost = cgroup2 && err == nil && fi.IsDir()
}

// hostShape names the host and the engines' cgroup settings, for logs
// and the report.
func hostShape() string {
	v := "cgroup v1"
	if cgroup2 {
		v = "cgroup v2"
	}
	if systemdHost {
		return v + ", systemd: podman cgroup_manager=systemd, dockerd native.cgroupdriver=systemd, containerd SystemdCgroup=true"
	}
	return v + ", no systemd: every engine on cgroupfs"
}

// v12 is the value expected on a cgroup v1 host or on a v2 one.
func v12(v1, v2 string) string {
	if cgroup2 {
		return v2
	}
	return v1
}

// cgFile is one cgroup file under its v1 and v2 names; v1 is in the
// hierarchy of controller ctl.
type cgFile struct{ ctl, v1, v2 string }

var (
	memMax    = cgFile{"memory", "memory.limit_in_bytes", "memory.max"}
	memSwap   = cgFile{"memory", "memory.memsw.limit_in_bytes", "memory.swap.max"} // v1: memory+swap, v2: swap alone
	pidsMax   = cgFile{"pids", "pids.max", "pids.max"}
	cpuShares = cgFile{"cpu", "cpu.shares", "cpu.weight"}
	cpuQuota  = cgFile{"cpu", "cpu.cfs_quota_us", "cpu.max"} // v2: "quota period"
	cpuPeriod = cgFile{"cpu", "cpu.cfs_period_us", "cpu.max"}
)

// name is the file's name on this host.
func (f cgFile) name() string { return v12(f.v1, f.v2) }

// inside is the file's path in a container of this host: v1 mounts each
// hierarchy, v2 the container's own cgroup (its cgroup namespace's root).
func (f cgFile) inside() string {
	return v12("/sys/fs/cgroup/"+f.ctl+"/"+f.v1, "/sys/fs/cgroup/"+f.v2)
}

// cgroupDir is the host directory of pid's cgroup: on v1 in controller's
// hierarchy, on v2 in the unified one. /proc/PID/cgroup is read from the
// host's cgroup namespace, so the path is the full one.
func cgroupDir(pid, controller string) (string, error) {
	data, err := os.ReadFile("/proc/" + pid + "/cgroup")
	if err != nil {
		return "", fmt.Errorf("cgroup of pid %q: %w", pid, err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.SplitN(l, ":", 3)
		if len(f) != 3 {
			continue
		}
		if cgroup2 {
			if f[0] == "0" && f[1] == "" {
				return filepath.Join("/sys/fs/cgroup", f[2]), nil
			}
			continue
		}
		for _, ctl := range strings.Split(f[1], ",") {
			if ctl == controller {
				return filepath.Join("/sys/fs/cgroup", controller, f[2]), nil
			}
		}
	}
	return "", fmt.Errorf("pid %s is in no %s cgroup: %q", pid, v12(controller, "unified"), data)
}

// cgDir is cgroupDir, ending the scenario on an error.
func (c *C) cgDir(pid, controller string) string {
	d, err := cgroupDir(pid, controller)
	if err != nil {
		c.Fatalf("%v", err)
	}
	return d
}

// cgRead reads file f of pid's cgroup from the host side.
func (c *C) cgRead(pid string, f cgFile) string {
	p := filepath.Join(c.cgDir(pid, f.ctl), f.name())
	v, err := os.ReadFile(p)
	if err != nil {
		c.Fatalf("read %s of pid %s: %v", f.name(), pid, err)
	}
	return strings.TrimSpace(string(v))
}

// freezeState is FROZEN or THAWED for pid's cgroup: freezer.state on v1,
// the kernel's "frozen" in cgroup.events on v2 (cgroup.freeze is only
// the request).
func (c *C) freezeState(pid string) string {
	if !cgroup2 {
		return c.cgRead(pid, cgFile{"freezer", "freezer.state", ""})
	}
	ev := c.cgRead(pid, cgFile{"", "", "cgroup.events"})
	for _, l := range strings.Split(ev, "\n") {
		switch l {
		case "frozen 1":
			return "FROZEN"
		case "frozen 0":
			return "THAWED"
		}
	}
	c.Fatalf("no frozen line in cgroup.events of pid %s: %q", pid, ev)
	return ""
}

// oomKills is the kernel's count of OOM kills in pid's memory cgroup:
// oom_kill in memory.oom_control (v1) or memory.events (v2).
func (c *C) oomKills(pid string) string {
	data := c.cgRead(pid, cgFile{"memory", "memory.oom_control", "memory.events"})
	for _, l := range strings.Split(data, "\n") {
		if n, ok := strings.CutPrefix(l, "oom_kill "); ok {
			return n
		}
	}
	c.Fatalf("no oom_kill count for pid %s: %q", pid, data)
	return ""
}

// The systemd side, on a systemd host.

// scopeOf is the transient scope unit that holds pid (the last element
// of its cgroup path) and its cgroup directory; it must be want.
func (c *C) scopeOf(pid, want string) (unit, dir string) {
	dir = c.cgDir(pid, "")
	unit = filepath.Base(dir)
	if unit != want {
		c.Fatalf("pid %s is in cgroup %s, not in the unit %s", pid, dir, want)
	}
	p := c.unitProps(unit, "LoadState", "ActiveState", "ControlGroup", "Delegate")
	if p["LoadState"] != "loaded" || p["ActiveState"] != "active" || "/sys/fs/cgroup"+p["ControlGroup"] != dir || p["Delegate"] != "yes" {
		c.Fatalf("unit %s: %v; want loaded, active, ControlGroup %s, Delegate=yes", unit, p, strings.TrimPrefix(dir, "/sys/fs/cgroup"))
	}
	return unit, dir
}

// unitProps are the properties of a unit as systemctl shows them.
func (c *C) unitProps(unit string, props ...string) map[string]string {
	r := command(30*time.Second, "", nil, "systemctl", "show", "-p", strings.Join(props, ","), unit)
	if r.Code != 0 {
		c.Fatalf("systemctl show %s: %s", unit, r)
	}
	m := map[string]string{}
	for _, l := range lines(r.Out) {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

// wantUnitProps fails unless the unit's properties are want.
func (c *C) wantUnitProps(unit string, want map[string]string) {
	var names []string
	for k := range want {
		names = append(names, k)
	}
	got := c.unitProps(unit, names...)
	for k, v := range want {
		if got[k] != v {
			c.Fatalf("unit %s: %s=%s, want %s (all: %v)", unit, k, got[k], v, got)
		}
	}
}

// unitsLeft lists the units matching the glob patterns that systemd
// still knows, in any state (a failed scope counts: it is left behind).
func unitsLeft(patterns ...string) ([]string, error) {
	r := command(30*time.Second, "", nil, append([]string{"systemctl", "list-units", "--all", "--plain", "--no-legend", "--no-pager"}, patterns...)...)
	if r.Code != 0 {
		return nil, fmt.Errorf("systemctl list-units: %s", r)
	}
	return lines(r.Out), nil
}

// noUnits fails if a unit matching patterns is left, or one of the
// cgroup directories exists. A scope's removal is synchronous with the
// runtime's delete, so no waiting.
func (c *C) noUnits(patterns []string, cgroupDirs ...string) {
	left, err := unitsLeft(patterns...)
	if err != nil {
		c.Fatalf("%v", err)
	}
	if len(left) != 0 {
		c.Fatalf("units left: %q", left)
	}
	for _, d := range cgroupDirs {
		if _, err := os.Stat(d); err == nil {
			procs, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
			c.Fatalf("cgroup %s left, holding %q", d, procs)
		}
	}
}

// cgroupsLeft lists the cgroups (directories) matching the glob patterns.
func cgroupsLeft(patterns ...string) []string {
	var left []string
	for _, p := range patterns {
		m, _ := filepath.Glob(p)
		for _, d := range m {
			if fi, err := os.Stat(d); err == nil && fi.IsDir() {
				left = append(left, d)
			}
		}
	}
	return left
}
