package engines

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// dockerClient is Docker's own client, of the daemon's version (20.10);
// another docker on PATH may be a different, unrelated client.
const dockerClient = "/usr/bin/docker"

// dockerT is a private dockerd: its own data root, exec root, socket,
// pid file and containerd, no network bridge, no iptables, no registry.
// rung is registered as runtime "rung" and the reference as "refrunc".
type dockerT struct {
	sock, dataRoot, execRoot, config string
}

var (
	dockerOnce sync.Once
	dockerEnv  *dockerT
	dockerErr  error
)

func dockerSetup() (*dockerT, error) {
	dockerOnce.Do(func() {
		base := filepath.Join(work, "docker")
		d := &dockerT{
			sock:     filepath.Join(base, "docker.sock"),
			dataRoot: filepath.Join(base, "data"),
			execRoot: filepath.Join(base, "exec"),
			config:   filepath.Join(base, "config"),
		}
		for _, dir := range []string{d.dataRoot, d.execRoot, d.config} {
			if dockerErr = os.MkdirAll(dir, 0o700); dockerErr != nil {
				return
			}
		}
		// Our own containerd rather than dockerd's managed one: dockerd
		// 20.10 silently uses the system containerd whenever
		// /run/containerd/containerd.sock exists, and other engine tests
		// on this machine may create one. This one lives under work.
		ctrdSock := filepath.Join(base, "containerd", "containerd.sock")
		ctrdConf := filepath.Join(base, "containerd.toml")
		conf := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %q
[ttrpc]
  address = %q
[debug]
  address = %q
[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(base, "containerd", "root"), filepath.Join(base, "containerd", "state"), ctrdSock, ctrdSock+".ttrpc", filepath.Join(base, "containerd", "debug.sock"), filepath.Join(base, "containerd", "opt"))
		if dockerErr = os.WriteFile(ctrdConf, []byte(conf), 0o644); dockerErr != nil {
			return
		}
		if _, dockerErr = startDaemon("docker-containerd", func() bool {
			_, err := os.Stat(ctrdSock)
			return err == nil
		}, "containerd", "--config", ctrdConf); dockerErr != nil {
			return
		}
		// An empty daemon.json, so that /etc/docker's cannot apply.
		daemonJSON := filepath.Join(base, "daemon.json")
		if dockerErr = os.WriteFile(daemonJSON, []byte("{}\n"), 0o644); dockerErr != nil {
			return
		}
		// Docker asks for 1048576 open files by default; root here lacks
		// CAP_SYS_RESOURCE and the hard limit is lower, which runc and rung
		// both refuse. The defaults are the machine's own limits.
		nofile, nproc := hardLimits()
		argv := []string{"/usr/sbin/dockerd",
			"--config-file", daemonJSON,
			"-H", "unix://" + d.sock,
			"--data-root", d.dataRoot,
			"--exec-root", d.execRoot,
			"--pidfile", filepath.Join(base, "dockerd.pid"),
			"--containerd", ctrdSock,
			"--bridge=none", "--iptables=false", "--ip-masq=false", "--ip6tables=false", "--userland-proxy=false",
			"--exec-opt", "native.cgroupdriver=" + dockerCgroupDriver(),
			"--storage-driver", "vfs",
			"--add-runtime", "rung=" + runtimes[0].Path,
			"--add-runtime", "refrunc=" + runtimes[1].Path,
			"--default-ulimit", fmt.Sprintf("nofile=%d:%d", nofile, nofile),
			"--default-ulimit", fmt.Sprintf("nproc=%d:%d", nproc, nproc),
		}
		if _, dockerErr = startDaemon("dockerd", func() bool {
			return d.cmd(10*time.Second, "", "version").Code == 0
		}, argv...); dockerErr != nil {
			return
		}
		if r := d.cmd(120*time.Second, "", "load", "-i", imageTar); r.Code != 0 {
			dockerErr = errorf("docker load: %s", r)
			return
		}
		// One container first, with docker's default runtime, so that the
		// daemon's first-container costs land in no scenario's time.
		if r := d.cmd(120*time.Second, "", "run", "--rm", "--network", "none", imageName, "true"); r.Code != 0 {
			dockerErr = errorf("docker warm-up run: %s", r)
			return
		}
		dockerEnv = d
	})
	return dockerEnv, dockerErr
}

func (d *dockerT) cmd(timeout time.Duration, stdin string, args ...string) result {
	argv := append([]string{dockerClient, "-H", "unix://" + d.sock}, args...)
	return command(timeout, stdin, []string{"DOCKER_CONFIG=" + d.config}, argv...)
}

// dockerCgroupDriver is dockerd's stock driver on a systemd host with
// cgroup v2, else cgroupfs.
func dockerCgroupDriver() string {
	if systemdHost {
		return "systemd"
	}
	return "cgroupfs"
}

// dockerRuntime is the name dockerd knows c's runtime by.
func (c *C) dockerRuntime() string {
	if c.RT.Name == "rung" {
		return "rung"
	}
	return "refrunc"
}

// docker runs a docker client command with a 60 s timeout.
func (c *C) docker(args ...string) result { return c.dockerIn("", args...) }

func (c *C) dockerIn(stdin string, args ...string) result {
	d, err := dockerSetup()
	if err != nil {
		c.Fatalf("docker setup: %v", err)
	}
	return d.cmd(60*time.Second, stdin, args...)
}

func (c *C) dockerMust(args ...string) string {
	r := c.docker(args...)
	if r.Code != 0 {
		c.Fatalf("docker %s: %s", strings.Join(args, " "), r)
	}
	return r.Out
}

// name is a container name unique to this scenario and runtime; the
// container is removed when the scenario ends, whatever happened.
func (c *C) name(what string) string {
	n := "rungtest-" + c.RT.Name + "-" + what
	c.Cleanup(func() { c.docker("rm", "-f", n) })
	return n
}

// run is `docker run` with c's runtime, no network, and args after.
func (c *C) run(args ...string) []string {
	return append([]string{"run", "--runtime", c.dockerRuntime(), "--network", "none"}, args...)
}

func TestDocker(t *testing.T) {
	// The daemon starts here, not in the first scenario's time.
	start := time.Now()
	if _, err := dockerSetup(); err != nil {
		t.Fatalf("docker setup: %v", err)
	}
	t.Logf("dockerd, its containerd, the image load and a warm-up run took %.1fs", time.Since(start).Seconds())
	scenario(t, "docker", "run --rm with output", func(c *C) {
		r := c.docker(c.run("--rm", "--hostname", "h-"+c.RT.Name, imageName, "sh", "-c", "echo hello from $(hostname); echo args: \"$@\"", "sh", "one", "two words")...)
		want := "hello from h-" + c.RT.Name + "\nargs: one two words\n"
		if r.Code != 0 || r.Out != want {
			c.Fatalf("want exit 0 and %q, got %s", want, r)
		}
	})

	scenario(t, "docker", "run -i with stdin", func(c *C) {
		r := c.dockerIn("line one\nline two\n", c.run("--rm", "-i", imageName, "sh", "-c", "tr a-z A-Z; echo eof")...)
		want := "LINE ONE\nLINE TWO\neof\n"
		if r.Code != 0 || r.Out != want {
			c.Fatalf("want exit 0 and %q, got %s", want, r)
		}
	})

	scenario(t, "docker", "run -d, exec, logs, stop, rm", func(c *C) {
		n := c.name("detached")
		// The trap proves stop's SIGTERM reached the container's pid 1.
		script := "trap 'echo got TERM; exit 0' TERM; echo started; while :; do sleep 3600 & wait $!; done"
		id := strings.TrimSpace(c.dockerMust(c.run("-d", "--name", n, imageName, "sh", "-c", script)...))
		if len(id) != 64 {
			c.Fatalf("run -d printed %q, not a container id", id)
		}
		if rt := strings.TrimSpace(c.dockerMust("inspect", "-f", "{{.HostConfig.Runtime}}", n)); rt != c.dockerRuntime() {
			c.Fatalf("container's runtime is %q, want %q", rt, c.dockerRuntime())
		}
		// The runtime itself knows the container. dockerd 20.10 gives every
		// runc-like runtime the same state root, <exec-root>/runtime-runc,
		// namespace moby; the state file tells which runtime wrote it
		// (rung's records its isolation, runc's its init_process_pid).
		stateRoot := filepath.Join(dockerEnv.execRoot, "runtime-runc", "moby")
		st := command(10*time.Second, "", nil, c.RT.Path, "--root", stateRoot, "state", id)
		if st.Code != 0 || !strings.Contains(st.Out, `"status": "running"`) {
			c.Fatalf("%s --root %s state %s: %s", c.RT.Name, stateRoot, id, st)
		}
		rec, err := os.ReadFile(filepath.Join(stateRoot, id, "state.json"))
		key := map[string]string{"rung": `"isolation":`, "runc": `"init_process_pid":`}[c.RT.Name]
		if err != nil || !strings.Contains(string(rec), key) {
			c.Fatalf("state.json of %s was not written by %s (no %s): %v", id, c.RT.Name, key, err)
		}
		if !waitFor(20*time.Second, func() bool { return strings.Contains(c.docker("logs", n).Out, "started") }) {
			c.Fatalf("logs never showed \"started\": %s", c.docker("logs", n))
		}
		if r := c.docker("exec", n, "sh", "-c", "echo exec in $(cat /proc/1/comm) as $(id -u); ls /proc/1/cwd/bin/sh"); r.Code != 0 || r.Out != "exec in sh as 0\n/proc/1/cwd/bin/sh\n" {
			c.Fatalf("exec: %s", r)
		}
		if r := c.docker("exec", n, "sh", "-c", "exit 5"); r.Code != 5 {
			c.Fatalf("exec sh -c 'exit 5': want exit 5, got %s", r)
		}
		if r := c.docker("exec", "-u", "1000:1000", "-w", "/tmp", "-e", "FOO=bar", n, "sh", "-c", "echo $(id -u):$(id -g) $PWD $FOO"); r.Code != 0 || r.Out != "1000:1000 /tmp bar\n" {
			c.Fatalf("exec -u 1000:1000 -w /tmp -e FOO=bar: %s", r)
		}
		if r := c.docker("stop", "-t", "30", n); r.Code != 0 || strings.TrimSpace(r.Out) != n {
			c.Fatalf("stop: %s", r)
		}
		state := strings.TrimSpace(c.dockerMust("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}}", n))
		if state != "exited 0 false" {
			c.Fatalf("after stop, state %q, want \"exited 0 false\" (pid 1 trapped TERM and exited 0)", state)
		}
		if logs := c.dockerMust("logs", n); logs != "started\ngot TERM\n" {
			c.Fatalf("logs after stop %q, want \"started\\ngot TERM\\n\"", logs)
		}
		if r := c.docker("rm", n); r.Code != 0 || strings.TrimSpace(r.Out) != n {
			c.Fatalf("rm: %s", r)
		}
		if r := c.docker("inspect", n); r.Code == 0 {
			c.Fatalf("container still there after rm: %s", r)
		}
		if st := command(10*time.Second, "", nil, c.RT.Path, "--root", stateRoot, "state", id); st.Code == 0 {
			c.Fatalf("%s still has state for %s after rm: %s", c.RT.Name, id, st)
		}
	})

	scenario(t, "docker", "exit code of sh -c 'exit 3'", func(c *C) {
		n := c.name("exit3")
		if r := c.docker(c.run("--name", n, imageName, "sh", "-c", "echo before; exit 3")...); r.Code != 3 || r.Out != "before\n" {
			c.Fatalf("want exit 3 and \"before\\n\", got %s", r)
		}
		if s := strings.TrimSpace(c.dockerMust("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", n)); s != "exited 3" {
			c.Fatalf("inspect: %q, want \"exited 3\"", s)
		}
	})

	// A command that does not exist: docker run exits 127 when the
	// runtime's error names the command and says it is not found.
	for _, missing := range []string{"/no/such/binary", "nosuchcommand"} {
		missing := missing
		scenario(t, "docker", "missing command "+missing+" exits 127", func(c *C) {
			n := c.name("missing-" + strings.ReplaceAll(strings.Trim(missing, "/"), "/", "-"))
			r := c.docker(c.run("--name", n, imageName, missing)...)
			if r.Code != 127 {
				c.Fatalf("want exit 127, got %s", r)
			}
			if !strings.Contains(r.Err, missing) || !(strings.Contains(r.Err, "no such file or directory") || strings.Contains(r.Err, "executable file not found")) {
				c.Fatalf("stderr does not name %q as not found: %q", missing, r.Err)
			}
			c.Logf("docker printed: %s", strings.TrimSpace(r.Err))
			if s := strings.TrimSpace(c.dockerMust("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", n)); s != "created 127" {
				c.Fatalf("inspect: %q, want \"created 127\"", s)
			}
		})
	}

	scenario(t, "docker", "--memory 64m limits the container's cgroup", func(c *C) {
		const limit = 64 << 20
		// Seen from inside: the container's own memory cgroup.
		if !cgroup2 {
			// Docker on cgroup v1 gives no cgroup namespace: the
			// container's /sys/fs/cgroup/memory must be its own cgroup
			// (the mount's root is the path /proc/self/cgroup names), not
			// the host's whole tree.
			script := `cat /sys/fs/cgroup/memory/memory.limit_in_bytes; grep :memory: /proc/self/cgroup | cut -d: -f3; awk '$5 == "/sys/fs/cgroup/memory" { print $4 }' /proc/self/mountinfo`
			r := c.docker(c.run("--rm", "--memory", "64m", imageName, "sh", "-c", script)...)
			lines := strings.Split(strings.TrimSpace(r.Out), "\n")
			if r.Code != 0 || len(lines) != 3 || lines[0] != strconv.Itoa(limit) || !strings.HasPrefix(lines[1], "/docker/") || lines[2] != lines[1] {
				c.Fatalf("inside: want %d, then the container's memory cgroup twice (from /proc/self/cgroup and as the mount's root); got %s", limit, r)
			}
		} else {
			// Docker on cgroup v2 gives a cgroup namespace: the container
			// is the root of its cgroup tree, and /sys/fs/cgroup is a
			// cgroup2 mount of that root.
			script := `cat /sys/fs/cgroup/memory.max; cat /proc/self/cgroup; awk '$5 == "/sys/fs/cgroup" { for (i = 7; i < NF; i++) if ($i == "-") print $4, $(i+1) }' /proc/self/mountinfo`
			r := c.docker(c.run("--rm", "--memory", "64m", imageName, "sh", "-c", script)...)
			if want := strconv.Itoa(limit) + "\n0::/\n/ cgroup2\n"; r.Code != 0 || r.Out != want {
				c.Fatalf("inside: want %q (the limit, the container's own cgroup namespace, cgroup2 at its root); got %s", want, r)
			}
		}
		// Seen from the host, through the container's pid 1.
		n := c.name("memory")
		id := strings.TrimSpace(c.dockerMust(c.run("-d", "--name", n, "--memory", "64m", imageName, "sleep", "3600")...))
		pid := strings.TrimSpace(c.dockerMust("inspect", "-f", "{{.State.Pid}}", n))
		dir := c.cgDir(pid, "memory")
		if want := map[bool]string{false: "/docker/" + id, true: "/system.slice/docker-" + id + ".scope"}[systemdHost]; !strings.HasSuffix(dir, want) {
			c.Fatalf("host: container cgroup %s, want one ending in %s", dir, want)
		}
		if got := c.cgRead(pid, memMax); got != strconv.Itoa(limit) {
			c.Fatalf("host: %s's %s: %q; want %d", dir, memMax.name(), got, limit)
		}
		c.dockerMust("rm", "-f", n)
	})

	scenario(t, "docker", "limits in the cgroup and unit, none left", func(c *C) {
		n := c.name("limits")
		id := strings.TrimSpace(c.dockerMust(c.run("-d", "--name", n, "--memory", "64m", "--pids-limit", "20", imageName, "sleep", "3600")...))
		pid := strings.TrimSpace(c.dockerMust("inspect", "-f", "{{.State.Pid}}", n))
		if v := c.cgRead(pid, memMax); v != "67108864" {
			c.Fatalf("host: %s %s, want 67108864", memMax.name(), v)
		}
		if v := c.cgRead(pid, pidsMax); v != "20" {
			c.Fatalf("host: pids.max %s, want 20", v)
		}
		dir := c.cgDir(pid, "memory")
		unit := "docker-" + id + ".scope"
		if systemdHost {
			c.scopeOf(pid, unit)
			c.wantUnitProps(unit, map[string]string{"MemoryMax": "67108864", "TasksMax": "20"})
		}
		c.dockerMust("rm", "-f", n)
		if systemdHost {
			c.noUnits([]string{unit}, dir)
		} else if _, err := os.Stat(dir); err == nil {
			c.Fatalf("cgroup %s left after rm", dir)
		}
	})

	scenario(t, "docker", "OOM kill at the memory limit", func(c *C) {
		n := c.name("oom")
		// tail keeps a line it never ends: it grows until the limit.
		// Without swap the OOM killer takes it at 32m.
		r := c.docker(c.run("--name", n, "--memory", "32m", "--memory-swap", "32m", imageName, "tail", "/dev/zero")...)
		if r.Code != 137 {
			c.Fatalf("run: %s, want exit 137", r)
		}
		// containerd's OOM event travels apart from the exit, and may come
		// after it (seen on the slow VM guest, with rung and runc alike):
		// dockerd sets OOMKilled when it arrives.
		var st string
		if !waitFor(10*time.Second, func() bool {
			st = strings.TrimSpace(c.dockerMust("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}}", n))
			return st == "exited 137 true"
		}) {
			c.Fatalf("inspect: %q, want \"exited 137 true\"", st)
		}
		id := strings.TrimSpace(c.dockerMust("inspect", "-f", "{{.Id}}", n))
		c.dockerMust("rm", n)
		if systemdHost {
			c.noUnits([]string{"docker-" + id + ".scope"}, "/sys/fs/cgroup/system.slice/docker-"+id+".scope")
		}
	})

	scenario(t, "docker", "--read-only: / is not writable", func(c *C) {
		script := "touch /written 2>&1; echo touch=$?; touch /tmp/ok && echo tmp=ok; grep -q '^[^ ]* / [^ ]* ro[, ]' /proc/mounts && echo root=ro"
		r := c.docker(c.run("--rm", "--read-only", "--tmpfs", "/tmp", imageName, "sh", "-c", script)...)
		want := "touch: /written: Read-only file system\ntouch=1\ntmp=ok\nroot=ro\n"
		if r.Code != 0 || r.Out != want {
			c.Fatalf("want exit 0 and %q, got %s", want, r)
		}
		// Without --read-only, the same write works: the check above is
		// about the flag, not about an image that cannot be written.
		r = c.docker(c.run("--rm", imageName, "sh", "-c", "touch /written && echo touch=$?")...)
		if r.Code != 0 || r.Out != "touch=0\n" {
			c.Fatalf("without --read-only: want \"touch=0\", got %s", r)
		}
	})

	scenario(t, "docker", "run -t gives a terminal", func(c *C) {
		r := c.docker(c.run("--rm", "-t", imageName, "sh", "-c", "tty; test -t 0 && test -t 1 && test -t 2 && echo all-tty")...)
		// The terminal's output post-processing turns \n into \r\n.
		want := "/dev/pts/0\r\nall-tty\r\n"
		if r.Code != 0 || r.Out != want {
			c.Fatalf("want exit 0 and %q, got %s", want, r)
		}
		r = c.docker(c.run("--rm", imageName, "sh", "-c", "tty; echo $?")...)
		if r.Out != "not a tty\n1\n" {
			c.Fatalf("without -t: want \"not a tty\\n1\\n\", got %s", r)
		}
	})

	scenario(t, "docker", "kill -s, pause, top, update, exec -t, kill", func(c *C) {
		n := c.name("lifecycle")
		script := "trap 'echo got USR1' USR1; echo started; while :; do sleep 3600 & wait $!; done"
		c.dockerMust(c.run("-d", "--name", n, "--memory", "64m", "--memory-swap", "128m", imageName, "sh", "-c", script)...)
		if !waitFor(20*time.Second, func() bool { return c.docker("logs", n).Out == "started\n" }) {
			c.Fatalf("logs never showed \"started\": %s", c.docker("logs", n))
		}
		c.dockerMust("kill", "-s", "USR1", n)
		if !waitFor(20*time.Second, func() bool { return c.docker("logs", n).Out == "started\ngot USR1\n" }) {
			c.Fatalf("USR1 never reached pid 1: logs %s", c.docker("logs", n))
		}
		c.dockerMust("pause", n)
		if s := strings.TrimSpace(c.dockerMust("inspect", "-f", "{{.State.Status}}", n)); s != "paused" {
			c.Fatalf("after pause, status %q", s)
		}
		pid := strings.TrimSpace(c.dockerMust("inspect", "-f", "{{.State.Pid}}", n))
		if fz := c.freezeState(pid); fz != "FROZEN" {
			c.Fatalf("paused container's cgroup: %s", fz)
		}
		if r := c.docker("exec", n, "true"); r.Code == 0 {
			c.Fatalf("exec into a paused container succeeded: %s", r)
		}
		c.dockerMust("unpause", n)
		if s := strings.TrimSpace(c.dockerMust("inspect", "-f", "{{.State.Status}}", n)); s != "running" {
			c.Fatalf("after unpause, status %q", s)
		}
		if fz := c.freezeState(pid); fz != "THAWED" {
			c.Fatalf("unpaused container's cgroup: %s", fz)
		}
		// top lists the container's processes through the runtime's ps.
		top := c.dockerMust("top", n, "-o", "pid,comm")
		if !strings.Contains(top, pid+" ") || !strings.Contains(top, "sleep") {
			c.Fatalf("top does not show pid 1 (%s) and its sleep:\n%s", pid, top)
		}
		c.dockerMust("update", "--memory", "96m", "--memory-swap", "192m", n)
		// v1's memsw is memory and swap together; v2's swap.max is the
		// swap alone.
		swap := v12(strconv.Itoa(192<<20), strconv.Itoa(96<<20))
		if r := c.docker("exec", n, "cat", memMax.inside(), memSwap.inside()); r.Code != 0 || r.Out != strconv.Itoa(96<<20)+"\n"+swap+"\n" {
			c.Fatalf("after update --memory 96m --memory-swap 192m: %s", r)
		}
		if systemdHost {
			id := strings.TrimSpace(c.dockerMust("inspect", "-f", "{{.Id}}", n))
			c.wantUnitProps("docker-"+id+".scope", map[string]string{"MemoryMax": strconv.Itoa(96 << 20), "MemorySwapMax": strconv.Itoa(96 << 20)})
		}
		if r := c.docker("exec", "-t", n, "tty"); r.Code != 0 || r.Out != "/dev/pts/0\r\n" {
			c.Fatalf("exec -t tty: want \"/dev/pts/0\\r\\n\", got %s", r)
		}
		c.dockerMust("kill", n)
		if s := strings.TrimSpace(c.dockerMust("wait", n)); s != "137" {
			c.Fatalf("wait after kill: %q, want 137", s)
		}
		c.dockerMust("rm", n)
	})

	// Every scenario removed its containers, their units and cgroups.
	if d, err := dockerSetup(); err == nil {
		if r := d.cmd(30*time.Second, "", "ps", "-a", "--format", "{{.Names}}"); r.Code != 0 || strings.TrimSpace(r.Out) != "" {
			t.Errorf("containers left behind: %s", r)
		}
		if systemdHost {
			if left, err := unitsLeft("docker-*.scope"); err != nil || len(left) != 0 {
				t.Errorf("units left behind: %q %v", left, err)
			}
		}
		parent := map[bool]string{false: v12("/sys/fs/cgroup/memory/docker", "/sys/fs/cgroup/docker"), true: "/sys/fs/cgroup/system.slice"}[systemdHost]
		if left := cgroupsLeft(filepath.Join(parent, map[bool]string{false: "[0-9a-f]*", true: "docker-*.scope"}[systemdHost])); len(left) != 0 {
			t.Errorf("cgroups left behind: %q", left)
		}
	} else {
		t.Errorf("docker setup: %v", err)
	}
}
