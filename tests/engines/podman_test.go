package engines

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// podman runs podman with a private store and the runtime of c, no
// network unless a test asks; cgroups and events as podmanCgroups says.
type podmanT struct {
	root, runroot, conf string
}

var (
	podmanOnce sync.Once
	podmanEnv  *podmanT
	podmanErr  error
)

func podmanSetup() (*podmanT, error) {
	podmanOnce.Do(func() {
		p := &podmanT{root: filepath.Join(work, "podman/root"), runroot: filepath.Join(work, "podman/run"), conf: filepath.Join(work, "podman/containers.conf")}
		os.MkdirAll(filepath.Dir(p.conf), 0o755)
		// podman asks for 1048576 open files and processes, above the
		// v1 machine's hard limits, and root there lacks
		// CAP_SYS_RESOURCE: runc and rung both refuse that, so the
		// defaults are the machine's own.
		nofile, nproc := hardLimits()
		manager, events := podmanCgroups()
		conf := fmt.Sprintf("[engine]\ncgroup_manager = %q\nevents_logger = %q\n[containers]\nlog_driver = \"k8s-file\"\ndefault_ulimits = [\"nofile=%d:%d\", \"nproc=%d:%d\"]\n", manager, events, nofile, nofile, nproc, nproc)
		if podmanErr = os.WriteFile(p.conf, []byte(conf), 0o644); podmanErr != nil {
			return
		}
		r := p.cmd(nil, 120*time.Second, "", "load", "-i", imageTar)
		if r.Code != 0 {
			podmanErr = errorf("podman load: %s", r)
			return
		}
		podmanEnv = p
	})
	return podmanEnv, podmanErr
}

// podmanCgroups are podman's cgroup manager and events backend: its stock
// systemd and journald on a systemd host, else cgroupfs and a file.
func podmanCgroups() (manager, events string) {
	if systemdHost {
		return "systemd", "journald"
	}
	return "cgroupfs", "file"
}

// argv is podman with this store and c's runtime (none if c is nil).
func (p *podmanT) argv(c *C) []string {
	manager, events := podmanCgroups()
	argv := []string{"podman", "--root", p.root, "--runroot", p.runroot, "--storage-driver", "vfs", "--cgroup-manager", manager, "--events-backend", events, "--tmpdir", filepath.Join(p.runroot, "tmp")}
	if c != nil {
		argv = append(argv, "--runtime", c.RT.Path)
	}
	return argv
}

func (p *podmanT) cmd(c *C, timeout time.Duration, stdin string, args ...string) result {
	return command(timeout, stdin, []string{"CONTAINERS_CONF=" + p.conf}, append(p.argv(c), args...)...)
}

// podman runs a podman command with c's runtime and a 60 s timeout.
func (c *C) podman(args ...string) result {
	p, err := podmanSetup()
	if err != nil {
		c.Fatalf("podman setup: %v", err)
	}
	return p.cmd(c, 60*time.Second, "", args...)
}

func (c *C) podmanMust(args ...string) string {
	r := c.podman(args...)
	if r.Code != 0 {
		c.Fatalf("podman %s: %s", strings.Join(args, " "), r)
	}
	return r.Out
}

// uniqueName is a container name of this scenario and runtime.
func (c *C) uniqueName(base string) string { return "rungtest-" + base + "-" + c.RT.Name }

func TestPodman(t *testing.T) {
	// The store and the image load are set up first, outside the
	// scenarios' times.
	if _, err := podmanSetup(); err != nil {
		t.Fatalf("podman setup: %v", err)
	}
	scenario(t, "podman", "run --rm with output", func(c *C) {
		out := c.podmanMust("run", "--rm", "--network", "none", imageName, "sh", "-c", "echo hello; cat /proc/1/cmdline | tr '\\0' ' '")
		if out != "hello\nsh -c echo hello; cat /proc/1/cmdline | tr '\\0' ' ' " {
			c.Fatalf("output %q", out)
		}
	})
	scenario(t, "podman", "run -d, ps, exec, logs, stop, rm", func(c *C) {
		name := c.uniqueName("detached")
		c.Cleanup(func() { c.podman("rm", "-f", "-t", "0", name) })
		// A PID 1 that says it started and exits cleanly on TERM.
		c.podmanMust("run", "-d", "--name", name, "--network", "none", imageName, "sh", "-c", "trap 'echo got TERM; exit 0' TERM; echo started; while :; do sleep 1; done")
		if !waitFor(10*time.Second, func() bool { return strings.Contains(c.podman("logs", name).Out, "started") }) {
			c.Fatalf("logs never showed the start: %s", c.podman("logs", name))
		}
		if ps := c.podmanMust("ps", "--format", "{{.Names}} {{.Status}}"); !strings.Contains(ps, name+" Up") {
			c.Fatalf("ps does not list %s as up:\n%s", name, ps)
		}
		if out := c.podmanMust("exec", name, "sh", "-c", "echo in $(cat /proc/1/comm); id -u"); out != "in sh\n0\n" {
			c.Fatalf("exec output %q", out)
		}
		if r := c.podman("exec", name, "sh", "-c", "exit 7"); r.Code != 7 {
			c.Fatalf("exec exit code: %s", r)
		}
		c.podmanMust("stop", "-t", "10", name)
		if st := strings.TrimSpace(c.podmanMust("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name)); st != "exited 0" {
			c.Fatalf("after stop: %s", st)
		}
		if logs := c.podmanMust("logs", name); logs != "started\ngot TERM\n" {
			c.Fatalf("logs after stop %q", logs)
		}
		c.podmanMust("rm", name)
		if r := c.podman("inspect", name); r.Code == 0 {
			c.Fatalf("%s still there after rm", name)
		}
	})
	scenario(t, "podman", "exit codes (3, missing command 127)", func(c *C) {
		if r := c.podman("run", "--rm", "--network", "none", imageName, "sh", "-c", "exit 3"); r.Code != 3 {
			c.Fatalf("exit 3: %s", r)
		}
		r := c.podman("run", "--rm", "--network", "none", imageName, "/no/such/command")
		if r.Code != 127 || !strings.Contains(r.Err, "no such file or directory") {
			c.Fatalf("missing command: %s", r)
		}
	})
	scenario(t, "podman", "--memory and --pids-limit in effect", func(c *C) {
		out := c.podmanMust("run", "--rm", "--network", "none", "--memory", "64m", "--pids-limit", "20", imageName, "sh", "-c",
			"cat "+memMax.inside()+" "+pidsMax.inside())
		if out != "67108864\n20\n" {
			c.Fatalf("limits seen inside: %q", out)
		}
		// The pids limit bites: 25 sleepers cannot all fork.
		r := c.podman("run", "--rm", "--network", "none", "--pids-limit", "20", imageName, "sh", "-c", "for i in $(seq 25); do sleep 5 & done 2>&1; wait")
		if !strings.Contains(r.Out+r.Err, "can't fork") {
			c.Fatalf("pids limit not in effect: %s", r)
		}
	})
	scenario(t, "podman", "limits in the cgroup and unit, none left", func(c *C) {
		name := c.uniqueName("limits")
		c.Cleanup(func() { c.podman("rm", "-f", "-t", "0", name) })
		id := strings.TrimSpace(c.podmanMust("run", "-d", "--name", name, "--network", "none", "--memory", "64m", "--pids-limit", "20", imageName, "sleep", "1000"))
		pid := strings.TrimSpace(c.podmanMust("inspect", "--format", "{{.State.Pid}}", name))
		if v := c.cgRead(pid, memMax); v != "67108864" {
			c.Fatalf("host: %s %s, want 67108864", memMax.name(), v)
		}
		if v := c.cgRead(pid, pidsMax); v != "20" {
			c.Fatalf("host: pids.max %s, want 20", v)
		}
		dir := c.cgDir(pid, "memory")
		// podman's own scope for conmon, and the container's.
		units := []string{"libpod-conmon-" + id + ".scope", "libpod-" + id + ".scope"}
		if systemdHost {
			unit, _ := c.scopeOf(pid, "libpod-"+id+".scope")
			if dir != "/sys/fs/cgroup/machine.slice/"+unit {
				c.Fatalf("container cgroup %s, want machine.slice/%s", dir, unit)
			}
			c.wantUnitProps(unit, map[string]string{"MemoryMax": "67108864", "TasksMax": "20"})
		}
		c.podmanMust("rm", "-f", "-t", "0", name)
		if systemdHost {
			c.noUnits(units, dir)
		} else if _, err := os.Stat(dir); err == nil {
			c.Fatalf("cgroup %s left after rm", dir)
		}
	})
	scenario(t, "podman", "OOM kill at the memory limit", func(c *C) {
		name := c.uniqueName("oom")
		c.Cleanup(func() { c.podman("rm", "-f", "-t", "0", name) })
		// tail keeps a line it never ends: it grows until the limit.
		// Without swap the OOM killer takes it at 32m. podman 4.3 never
		// sets State.OOMKilled (podman issue 13102, fixed in podman 5),
		// with any runtime: the kill is seen in the kernel's count for
		// the container's cgroup instead, while pid 1 lives on.
		id := strings.TrimSpace(c.podmanMust("run", "-d", "--name", name, "--network", "none", "--memory", "32m", "--memory-swap", "32m", imageName, "sh", "-c", "tail /dev/zero; echo tail=$?; sleep 1000"))
		if !waitFor(60*time.Second, func() bool { return strings.Contains(c.podman("logs", name).Out, "tail=") }) {
			c.Fatalf("tail never ended: logs %s", c.podman("logs", name))
		}
		if logs := c.podmanMust("logs", name); logs != "tail=137\n" {
			c.Fatalf("logs %q, want tail=137 (SIGKILL)", logs)
		}
		pid := strings.TrimSpace(c.podmanMust("inspect", "--format", "{{.State.Pid}}", name))
		if n := c.oomKills(pid); n != "1" {
			c.Fatalf("OOM kills in the container's cgroup: %s, want 1", n)
		}
		dir := c.cgDir(pid, "memory")
		c.podmanMust("rm", "-f", "-t", "0", name)
		if systemdHost {
			c.noUnits([]string{"libpod-conmon-" + id + ".scope", "libpod-" + id + ".scope"}, dir)
		} else if _, err := os.Stat(dir); err == nil {
			c.Fatalf("cgroup %s left after rm", dir)
		}
	})
	scenario(t, "podman", "--read-only", func(c *C) {
		r := c.podman("run", "--rm", "--network", "none", "--read-only", imageName, "sh", "-c", "touch /etc/x; echo rc=$?")
		if r.Code != 0 || !strings.Contains(r.Out, "rc=1") || !strings.Contains(r.Err+r.Out, "Read-only file system") {
			c.Fatalf("write to a read-only root: %s", r)
		}
	})
	scenario(t, "podman", "--user 1000:1000", func(c *C) {
		out := c.podmanMust("run", "--rm", "--network", "none", "--user", "1000:1000", imageName, "sh", "-c", "id; grep CapEff /proc/self/status")
		if out != "uid=1000(user) gid=1000(user) groups=1000(user)\nCapEff:\t0000000000000000\n" {
			c.Fatalf("as 1000:1000: %q", out)
		}
	})
	scenario(t, "podman", "pause and unpause", func(c *C) {
		name := c.uniqueName("pause")
		c.Cleanup(func() { c.podman("rm", "-f", "-t", "0", name) })
		c.podmanMust("run", "-d", "--name", name, "--network", "none", imageName, "sleep", "1000")
		c.podmanMust("pause", name)
		if st := strings.TrimSpace(c.podmanMust("inspect", "--format", "{{.State.Status}}", name)); st != "paused" {
			c.Fatalf("after pause: %s", st)
		}
		if st := strings.TrimSpace(c.runtimeState(name)); st != "paused" {
			c.Fatalf("runtime state after pause: %s", st)
		}
		pid := strings.TrimSpace(c.podmanMust("inspect", "--format", "{{.State.Pid}}", name))
		if st := c.freezeState(pid); st != "FROZEN" {
			c.Fatalf("cgroup of a paused container: %s", st)
		}
		c.podmanMust("unpause", name)
		if st := strings.TrimSpace(c.podmanMust("inspect", "--format", "{{.State.Status}}", name)); st != "running" {
			c.Fatalf("after unpause: %s", st)
		}
		if st := c.freezeState(pid); st != "THAWED" {
			c.Fatalf("cgroup after unpause: %s", st)
		}
		if out := c.podmanMust("exec", name, "echo", "alive"); out != "alive\n" {
			c.Fatalf("exec after unpause %q", out)
		}
	})
	scenario(t, "podman", "pod of two sharing the network namespace", func(c *C) {
		pod := c.uniqueName("pod")
		c.Cleanup(func() { c.podman("pod", "rm", "-f", "-t", "0", pod) })
		c.podmanMust("pod", "create", "--name", pod, "--network", "none", "--share", "net,ipc,uts")
		a, b := pod+"-a", pod+"-b"
		c.podmanMust("run", "-d", "--pod", pod, "--name", a, imageName, "sh", "-c", "echo hi from a | nc -l -p 7777; sleep 1000")
		c.podmanMust("run", "-d", "--pod", pod, "--name", b, imageName, "sleep", "1000")
		nsOf := "for n in net ipc uts mnt; do readlink /proc/self/ns/$n; done"
		nsA := c.podmanMust("exec", a, "sh", "-c", nsOf)
		nsB := c.podmanMust("exec", b, "sh", "-c", nsOf)
		la, lb := strings.Fields(nsA), strings.Fields(nsB)
		if len(la) != 4 || len(lb) != 4 || la[0] != lb[0] || la[1] != lb[1] || la[2] != lb[2] || la[3] == lb[3] {
			c.Fatalf("namespaces: a %v, b %v (net, ipc, uts shared; mnt not)", la, lb)
		}
		if host, _ := os.Readlink("/proc/self/ns/net"); host == la[0] {
			c.Fatalf("the pod's net namespace is the host's")
		}
		// b reaches a's listener on the shared loopback.
		var got string
		waitFor(10*time.Second, func() bool {
			got = c.podman("exec", b, "sh", "-c", "nc 127.0.0.1 7777 </dev/null").Out
			return got == "hi from a\n"
		})
		if got != "hi from a\n" {
			c.Fatalf("b could not reach a over the shared loopback: %q", got)
		}
	})
	scenario(t, "podman", "run -t with a terminal, top", func(c *C) {
		// script gives podman a terminal on its stdin and stdout.
		r := command(60*time.Second, "", []string{"CONTAINERS_CONF=" + podmanEnv.conf}, "script", "-qec",
			strings.Join(podmanEnv.argv(c), " ")+" run --rm -t --network none "+imageName+" sh -c 'tty; stty size'", "/dev/null")
		out := strings.ReplaceAll(r.Out, "\r", "")
		if r.Code != 0 || !strings.HasPrefix(out, "/dev/pts/0\n") {
			c.Fatalf("run -t: %s", r)
		}
		name := c.uniqueName("top")
		c.Cleanup(func() { c.podman("rm", "-f", "-t", "0", name) })
		c.podmanMust("run", "-d", "--name", name, "--network", "none", imageName, "sh", "-c", "sleep 1000 & wait")
		top := c.podmanMust("top", name, "pid", "args")
		if !strings.Contains(top, "sleep 1000") || !strings.Contains(top, "sh -c sleep 1000 & wait") {
			c.Fatalf("top:\n%s", top)
		}
	})
	scenario(t, "podman", "no containers, units or cgroups left", func(c *C) {
		if out := c.podmanMust("ps", "-a", "--format", "{{.Names}}"); strings.TrimSpace(out) != "" {
			c.Fatalf("containers left: %q", out)
		}
		if out := c.podmanMust("pod", "ps", "--format", "{{.Name}}"); strings.TrimSpace(out) != "" {
			c.Fatalf("pods left: %q", out)
		}
		// Every container's cgroup was podman's parent's libpod-ID child
		// (a pod's in the pod's own cgroup below it).
		parent := "/sys/fs/cgroup/memory/libpod_parent"
		if systemdHost {
			parent = "/sys/fs/cgroup/machine.slice"
			c.noUnits([]string{"libpod-*", "machine-libpod*"})
		}
		if left := cgroupsLeft(filepath.Join(parent, "libpod*"), filepath.Join(parent, "*", "libpod-*")); len(left) != 0 {
			c.Fatalf("cgroups left: %q", left)
		}
	})
}

// runtimeState asks the runtime itself for a podman container's status.
func (c *C) runtimeState(name string) string {
	id := strings.TrimSpace(c.podmanMust("inspect", "--format", "{{.Id}}", name))
	root := ""
	if c.RT.Name == "runc" {
		root = "/run/runc"
	} else {
		root = "/run/rung"
	}
	r := command(10*time.Second, "", nil, c.RT.Path, "--root", root, "state", id)
	var st struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(r.Out), &st); err != nil {
		c.Fatalf("%s state %s: %s", c.RT.Name, id, r)
	}
	return st.Status
}
