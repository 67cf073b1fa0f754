package engines

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Rootless podman (issue 13): podman run by an unprivileged user, as on
// a Fedora workstation or a CI runner, with --runtime pointing at rung
// or runc. Podman runs its runtime as uid 0 of the user's own user
// namespace (newuidmap, the user's /etc/subuid range), so the runtime
// has root's uid and none of root's power. On a systemd host the user
// lingers and podman's stock rootless cgroup manager is systemd through
// the user's own instance, whose delegated cgroup v2 subtree makes
// limits real; elsewhere podman uses cgroupfs and, on cgroup v1, ignores
// limits for a rootless user (its own rule, the same for any runtime).
type rootlessPodmanT struct {
	name       string
	uid, gid   string
	home, run  string
	env        []string
	manager    string
	setupError error
}

var (
	rootlessPodmanOnce sync.Once
	rootlessPodmanEnv  *rootlessPodmanT
)

// rootlessPodmanUser is the user's name; its subordinate ids are a range
// no other test of the suites uses.
const (
	rootlessPodmanUser = "rungpodrl"
	rootlessSubIDs     = "rungpodrl:200000000:65536\n"
)

func rootlessPodmanSetup() (*rootlessPodmanT, error) {
	rootlessPodmanOnce.Do(func() {
		p := &rootlessPodmanT{name: rootlessPodmanUser}
		rootlessPodmanEnv = p
		p.setupError = p.setup()
	})
	return rootlessPodmanEnv, rootlessPodmanEnv.setupError
}

func (p *rootlessPodmanT) setup() error {
	// A user left by an interrupted run goes first.
	removeUser(p.name)
	p.home = filepath.Join(work, "podman-rootless")
	if out, err := exec.Command("useradd", "-d", p.home, "-m", "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0", "-s", "/bin/sh", p.name).CombinedOutput(); err != nil {
		return fmt.Errorf("useradd: %v %s", err, out)
	}
	atExit(p.teardown)
	u, err := user.Lookup(p.name)
	if err != nil {
		return err
	}
	p.uid, p.gid = u.Uid, u.Gid
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		if err := appendLine(f, rootlessSubIDs); err != nil {
			return err
		}
	}
	if systemdHost {
		if err := p.userSession(); err != nil {
			return err
		}
		p.manager = "systemd"
	} else {
		p.run = filepath.Join(work, "podman-rootless-run")
		if err := os.Mkdir(p.run, 0o700); err != nil {
			return err
		}
		if out, err := exec.Command("chown", p.uid+":"+p.gid, p.run).CombinedOutput(); err != nil {
			return fmt.Errorf("chown %s: %v %s", p.run, err, out)
		}
		p.manager = "cgroupfs"
	}
	p.env = []string{"HOME=" + p.home, "USER=" + p.name, "LOGNAME=" + p.name, "XDG_RUNTIME_DIR=" + p.run}
	if systemdHost {
		p.env = append(p.env, "DBUS_SESSION_BUS_ADDRESS=unix:path="+p.run+"/bus")
	}
	// The image tarball lives in the run's directory, readable by all.
	if r := p.cmd(nil, 120*time.Second, "load", "-i", imageTar); r.Code != 0 {
		return fmt.Errorf("podman load as %s: %s", p.name, r)
	}
	return nil
}

// userSession lingers the user, so that its systemd instance runs, and
// waits for that instance and its bus.
func (p *rootlessPodmanT) userSession() error {
	if out, err := exec.Command("loginctl", "enable-linger", p.name).CombinedOutput(); err != nil {
		return fmt.Errorf("loginctl enable-linger: %v %s", err, out)
	}
	p.run = "/run/user/" + p.uid
	unit := "user@" + p.uid + ".service"
	ok := waitFor(60*time.Second, func() bool {
		_, err := os.Stat(p.run + "/bus")
		return err == nil && exec.Command("systemctl", "is-active", "-q", unit).Run() == nil
	})
	if !ok {
		out, _ := exec.Command("systemctl", "status", "--no-pager", unit).CombinedOutput()
		return fmt.Errorf("%s did not start with its bus in 60 s:\n%s", unit, out)
	}
	return nil
}

// teardown removes the user's containers and store (files owned by its
// subordinate ids, so removed from inside its namespace), its systemd
// instance, the user and its ids.
func (p *rootlessPodmanT) teardown() {
	if p.uid != "" {
		p.cmd(nil, 60*time.Second, "rm", "-a", "-f", "-t", "0")
		p.cmd(nil, 60*time.Second, "pod", "rm", "-a", "-f")
		p.cmd(nil, 60*time.Second, "unshare", "rm", "-rf", filepath.Join(p.home, ".local/share/containers"))
	}
	if systemdHost {
		exec.Command("loginctl", "disable-linger", p.name).Run()
		exec.Command("systemctl", "stop", "user@"+p.uid+".service").Run()
	}
	removeUser(p.name)
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		removeLine(f, rootlessSubIDs)
	}
}

// cmd runs podman as the user with c's runtime (none if c is nil).
func (p *rootlessPodmanT) cmd(c *C, timeout time.Duration, args ...string) result {
	_, events := podmanCgroups()
	argv := []string{"setpriv", "--reuid", p.uid, "--regid", p.gid, "--init-groups", "--", "podman", "--cgroup-manager", p.manager, "--events-backend", events}
	if c != nil {
		argv = append(argv, "--runtime", c.RT.Path)
	}
	return command(timeout, "", p.env, append(argv, args...)...)
}

func (c *C) podmanRootless(args ...string) result {
	p, err := rootlessPodmanSetup()
	if err != nil {
		c.Fatalf("rootless podman setup: %v", err)
	}
	return p.cmd(c, 60*time.Second, args...)
}

func (c *C) podmanRootlessMust(args ...string) string {
	r := c.podmanRootless(args...)
	if r.Code != 0 {
		c.Fatalf("podman (as %s) %s: %s", rootlessPodmanUser, strings.Join(args, " "), r)
	}
	return r.Out
}

// removeUser removes a user and its home, after its processes: rootless
// podman leaves a pause process holding the user's namespace, and userdel
// refuses a user that still runs one.
func removeUser(name string) {
	exec.Command("pkill", "-KILL", "-u", name).Run()
	waitFor(5*time.Second, func() bool { return exec.Command("pgrep", "-u", name).Run() != nil })
	exec.Command("userdel", "-f", "-r", name).Run()
}

func appendLine(file, line string) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func removeLine(file, line string) {
	data, err := os.ReadFile(file)
	if err == nil {
		os.WriteFile(file, []byte(strings.ReplaceAll(string(data), line, "")), 0o644)
	}
}

func TestPodmanRootless(t *testing.T) {
	p, err := rootlessPodmanSetup()
	if err != nil {
		t.Fatalf("rootless podman setup: %v", err)
	}
	// Networks need /dev/net/tun for slirp4netns, which the development
	// machine does not give a user: the scenarios run without one.
	scenario(t, "podman rootless", "run --rm: root of the user's namespace", func(c *C) {
		out := c.podmanRootlessMust("run", "--rm", "--network", "none", imageName, "sh", "-c", "echo hello; id -u; head -1 /proc/self/uid_map")
		f := strings.Fields(out)
		if len(f) != 5 || f[0] != "hello" || f[1] != "0" || f[2] != "0" || f[3] != p.uid || f[4] != "1" {
			c.Fatalf("output %q: want hello, uid 0, and 0 mapped to %s", out, p.uid)
		}
	})
	scenario(t, "podman rootless", "run -d, exec, logs, stop, rm", func(c *C) {
		name := c.uniqueName("rl-detached")
		c.Cleanup(func() { c.podmanRootless("rm", "-f", "-t", "0", name) })
		c.podmanRootlessMust("run", "-d", "--name", name, "--network", "none", imageName, "sh", "-c", "trap 'echo got TERM; exit 0' TERM; echo started; while :; do sleep 1; done")
		if !waitFor(20*time.Second, func() bool { return strings.Contains(c.podmanRootless("logs", name).Out, "started") }) {
			c.Fatalf("logs never showed the start: %s", c.podmanRootless("logs", name))
		}
		if out := c.podmanRootlessMust("exec", name, "sh", "-c", "echo in $(cat /proc/1/comm); id -u"); out != "in sh\n0\n" {
			c.Fatalf("exec output %q", out)
		}
		// The container's processes are the user's on the host.
		pid := strings.TrimSpace(c.podmanRootlessMust("inspect", "--format", "{{.State.Pid}}", name))
		if status, err := os.ReadFile("/proc/" + pid + "/status"); err != nil || !strings.Contains(string(status), "\nUid:\t"+p.uid+"\t") {
			c.Fatalf("init (pid %s) is not the user's on the host: %v", pid, err)
		}
		c.podmanRootlessMust("stop", "-t", "10", name)
		if st := strings.TrimSpace(c.podmanRootlessMust("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name)); st != "exited 0" {
			c.Fatalf("after stop: %s", st)
		}
		if logs := c.podmanRootlessMust("logs", name); logs != "started\ngot TERM\n" {
			c.Fatalf("logs after stop %q", logs)
		}
		c.podmanRootlessMust("rm", name)
		if r := c.podmanRootless("inspect", name); r.Code == 0 {
			c.Fatalf("%s still there after rm", name)
		}
	})
	scenario(t, "podman rootless", "--memory", func(c *C) {
		r := c.podmanRootless("run", "--rm", "--network", "none", "--memory", "64m", imageName, "sh", "-c", "cat /sys/fs/cgroup/memory.max 2>/dev/null || echo none")
		if !systemdHost {
			// podman's own rule on this host: limits are dropped for a
			// rootless user without a delegated cgroup v2 (a warning).
			if r.Code != 0 || !strings.Contains(r.Err, "Resource limits are not supported and ignored") {
				c.Fatalf("without a delegated cgroup v2: %s", r)
			}
			return
		}
		if r.Code != 0 || strings.TrimSpace(r.Out) != "67108864" {
			c.Fatalf("memory.max inside: %s", r)
		}
		name := c.uniqueName("rl-mem")
		c.Cleanup(func() { c.podmanRootless("rm", "-f", "-t", "0", name) })
		c.podmanRootlessMust("run", "-d", "--name", name, "--network", "none", "--memory", "64m", imageName, "sleep", "1000")
		pid := strings.TrimSpace(c.podmanRootlessMust("inspect", "--format", "{{.State.Pid}}", name))
		// In the user's delegated subtree, and limited there.
		dir := c.cgDir(pid, "memory")
		if want := "/sys/fs/cgroup/user.slice/user-" + p.uid + ".slice/user@" + p.uid + ".service/"; !strings.HasPrefix(dir, want) {
			c.Fatalf("container cgroup %s, not under %s", dir, want)
		}
		if v := c.cgRead(pid, memMax); v != "67108864" {
			c.Fatalf("host: memory.max %s, want 67108864", v)
		}
		c.podmanRootlessMust("rm", "-f", "-t", "0", name)
		if _, err := os.Stat(dir); err == nil {
			c.Fatalf("cgroup %s left after rm", dir)
		}
	})
	scenario(t, "podman rootless", "a pod", func(c *C) {
		pod := c.uniqueName("rl-pod")
		c.Cleanup(func() { c.podmanRootless("pod", "rm", "-f", pod) })
		c.podmanRootlessMust("pod", "create", "--name", pod, "--network", "none")
		name := c.uniqueName("rl-in-pod")
		c.podmanRootlessMust("run", "-d", "--name", name, "--pod", pod, imageName, "sleep", "1000")
		// The pod's members share its infra container's namespaces.
		if out := c.podmanRootlessMust("run", "--rm", "--pod", pod, imageName, "echo", "in-pod"); out != "in-pod\n" {
			c.Fatalf("run in the pod: %q", out)
		}
		infraNS := c.podmanRootlessMust("pod", "inspect", "--format", "{{.InfraContainerID}}", pod)
		pid := strings.TrimSpace(c.podmanRootlessMust("inspect", "--format", "{{.State.Pid}}", name))
		infraPid := strings.TrimSpace(c.podmanRootlessMust("inspect", "--format", "{{.State.Pid}}", strings.TrimSpace(infraNS)))
		for _, ns := range []string{"ipc", "uts", "net"} {
			a, errA := os.Readlink("/proc/" + pid + "/ns/" + ns)
			b, errB := os.Readlink("/proc/" + infraPid + "/ns/" + ns)
			if errA != nil || errB != nil || a != b {
				c.Fatalf("%s namespace not the pod's: %s vs infra %s (%v %v)", ns, a, b, errA, errB)
			}
		}
		c.podmanRootlessMust("pod", "rm", "-f", pod)
		if r := c.podmanRootless("pod", "inspect", pod); r.Code == 0 {
			c.Fatalf("pod %s still there after rm", pod)
		}
	})
}
