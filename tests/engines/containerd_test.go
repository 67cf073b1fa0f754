package engines

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// containerdT is the run's one private containerd, shared by the ctr and
// the CRI tests: its own root, state, sockets, CNI config and IPAM store
// under work; nothing under /run/containerd or /var/lib/containerd.
type containerdT struct {
	dir     string
	sock    string
	crictl  string            // crictl's config file (endpoints, timeout)
	bin     map[string]string // runtime name -> the binary the shim runs (an argv-logging wrapper)
	root    map[string]string // runtime name -> the runtime's --root the shim passes
	argvLog map[string]string // runtime name -> the wrapper's log of the shim's command lines
	logs    string            // CRI pods' log directories
}

const (
	ctrNS   = "rung-ctr" // the namespace the ctr tests use
	criNS   = "k8s.io"   // the CRI plugin's namespace
	cniNet  = "198.18.250"
	cniName = "rung-engines"
	cniBr   = "rungcni0"
)

var (
	containerdOnce sync.Once
	containerdEnv  *containerdT
	containerdErr  error
)

func containerdSetup() (*containerdT, error) {
	containerdOnce.Do(func() {
		containerdEnv, containerdErr = startContainerd()
	})
	return containerdEnv, containerdErr
}

func startContainerd() (*containerdT, error) {
	d := filepath.Join(work, "containerd")
	e := &containerdT{
		dir: d, sock: filepath.Join(d, "containerd.sock"), crictl: filepath.Join(d, "crictl.yaml"),
		bin: map[string]string{}, root: map[string]string{}, argvLog: map[string]string{},
		logs: filepath.Join(d, "pod-logs"),
	}
	for _, sub := range []string{"bin", "cni", "opt", "ipam", "runtime-root", "pod-logs"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
			return nil, err
		}
	}
	// The shim runs BinaryName; a wrapper records its argv (global
	// flags and all) and execs the runtime itself.
	for _, rt := range runtimes {
		e.bin[rt.Name] = filepath.Join(d, "bin", rt.Name)
		e.root[rt.Name] = filepath.Join(d, "runtime-root", rt.Name)
		e.argvLog[rt.Name] = filepath.Join(d, rt.Name+"-argv.log")
		script := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$*\" >> %s\nexec %s \"$@\"\n", e.argvLog[rt.Name], rt.Path)
		if err := os.WriteFile(e.bin[rt.Name], []byte(script), 0o755); err != nil {
			return nil, err
		}
	}
	cni := fmt.Sprintf(`{"cniVersion": "1.0.0", "name": %q, "plugins": [
  {"type": "bridge", "bridge": %q, "isGateway": false, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "%s.0/24"}]], "dataDir": %q}},
  {"type": "loopback"}]}
`, cniName, cniBr, cniNet, filepath.Join(d, "ipam"))
	if err := os.WriteFile(filepath.Join(d, "cni", "10-rung-engines.conflist"), []byte(cni), 0o644); err != nil {
		return nil, err
	}
	var rts strings.Builder
	for _, rt := range runtimes {
		// The RuntimeClass path a cluster uses: a handler per runtime,
		// the runc v2 shim with BinaryName; the systemd cgroup manager
		// on a systemd host (as kubeadm sets it), else cgroupfs.
		fmt.Fprintf(&rts, `    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.%[1]s]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.%[1]s.options]
        BinaryName = %[2]q
        Root = %[3]q
        SystemdCgroup = %[4]t
`, rt.Name, e.bin[rt.Name], e.root[rt.Name], systemdHost)
	}
	// restrict_oom_score_adj: root here lacks CAP_SYS_RESOURCE, so the
	// CRI must not ask for an oom_score_adj below containerd's own.
	// netns_mounts_under_state_dir keeps pod network namespaces out of
	// /run/netns. Open files: the CRI's spec sets no rlimits, so
	// containers inherit containerd's (this process' 20000 here); ctr's
	// default spec asks for 1024. Neither exceeds the hard limit.
	config := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = %[3]q
[ttrpc]
  address = %[4]q
[debug]
  level = "info"

[plugins."io.containerd.internal.v1.opt"]
  path = %[5]q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[6]q
  restrict_oom_score_adj = true
  systemd_cgroup = false
  disable_cgroup = false
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %[7]q
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "rung"
%[8]s`, filepath.Join(d, "root"), filepath.Join(d, "state"), e.sock, e.sock+".ttrpc",
		filepath.Join(d, "opt"), pauseName, filepath.Join(d, "cni"), rts.String())
	conf := filepath.Join(d, "config.toml")
	if err := os.WriteFile(conf, []byte(config), 0o644); err != nil {
		return nil, err
	}
	crictlConf := fmt.Sprintf("runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 60\n", e.sock, e.sock)
	if err := os.WriteFile(e.crictl, []byte(crictlConf), 0o644); err != nil {
		return nil, err
	}
	// The bridge plugin creates the bridge and never removes it.
	atExit(func() { exec.Command("ip", "link", "del", cniBr).Run() })
	// The CRI pods' slices' parents (the pods' own are stopped with them).
	if systemdHost {
		atExit(func() { exec.Command("systemctl", "stop", "rungcri.slice").Run() })
	}
	_, err := startDaemon("containerd", func() bool {
		return command(5*time.Second, "", nil, "ctr", "--address", e.sock, "version").Code == 0
	}, "containerd", "--config", conf)
	if err != nil {
		return nil, err
	}
	// ctr's namespace and the CRI's both get the two images.
	for _, ns := range []string{ctrNS, criNS} {
		for _, tarball := range []string{imageTar, pauseTar} {
			if r := e.ctr(ns, 120*time.Second, "", "images", "import", tarball); r.Code != 0 {
				return nil, errorf("ctr -n %s images import %s: %s", ns, tarball, r)
			}
		}
	}
	return e, nil
}

func (e *containerdT) ctr(ns string, timeout time.Duration, stdin string, args ...string) result {
	return command(timeout, stdin, nil, append([]string{"ctr", "--address", e.sock, "-n", ns}, args...)...)
}

// ctd is the private containerd; the scenario fails if it did not start.
func (c *C) ctd() *containerdT {
	e, err := containerdSetup()
	if err != nil {
		c.Fatalf("containerd setup: %v", err)
	}
	return e
}

// ctr runs ctr in the ctr tests' namespace, 60 s timeout.
func (c *C) ctr(args ...string) result {
	return c.ctd().ctr(ctrNS, 60*time.Second, "", args...)
}

func (c *C) ctrMust(args ...string) string {
	r := c.ctr(args...)
	if r.Code != 0 {
		c.Fatalf("ctr %s: %s", strings.Join(args, " "), r)
	}
	return r.Out
}

// runtimeFlags point ctr run at c's runtime through the runc shim's
// options, with the runtime's own root, and on a systemd host the
// option that makes the shim pass --systemd-cgroup.
func (c *C) runtimeFlags() []string {
	e := c.ctd()
	flags := []string{"--runc-binary", e.bin[c.RT.Name], "--runc-root", e.root[c.RT.Name]}
	if systemdHost {
		flags = append(flags, "--runc-systemd-cgroup")
	}
	return flags
}

// ctrCgroup is the cgroupsPath ctr run passes for container id: a
// cgroupfs path, or runc's "slice:prefix:name" under systemd (the scope
// rungctr-ID.scope in system.slice).
func ctrCgroup(id string) string {
	if systemdHost {
		return "system.slice:rungctr:" + id
	}
	return "/rung-engines-ctr/" + id
}

// ctrScope is the scope unit of container id on a systemd host.
func ctrScope(id string) string { return "rungctr-" + id + ".scope" }

// ctrID is a container id unique to the scenario and runtime.
func (c *C) ctrID(name string) string { return "ctr-" + c.RT.Name + "-" + name }

// ctrRun runs `ctr run` with c's runtime; args are the flags before the
// image, cmd the command after the id.
func (c *C) ctrRun(id string, flags []string, cmd ...string) result {
	argv := append([]string{"run"}, flags...)
	argv = append(argv, c.runtimeFlags()...)
	argv = append(argv, "--cgroup", ctrCgroup(id), imageName, id)
	return c.ctr(append(argv, cmd...)...)
}

// ctrDetached starts a detached task and removes it when the scenario ends.
func (c *C) ctrDetached(id string, flags []string, cmd ...string) {
	c.Cleanup(func() { c.ctrRemove(id) })
	if r := c.ctrRun(id, append([]string{"-d"}, flags...), cmd...); r.Code != 0 {
		c.Fatalf("ctr run -d %s: %s", id, r)
	}
}

// ctrRemove kills and removes a task and its container, whatever state
// they are in.
func (c *C) ctrRemove(id string) {
	e := c.ctd()
	if c.taskStatus(id) != "" {
		e.ctr(ctrNS, 30*time.Second, "", "task", "kill", "-s", "KILL", id)
		waitFor(20*time.Second, func() bool { return c.taskStatus(id) != "RUNNING" && c.taskStatus(id) != "PAUSED" })
		e.ctr(ctrNS, 30*time.Second, "", "task", "rm", "-f", id)
	}
	e.ctr(ctrNS, 30*time.Second, "", "containers", "rm", id)
	if !systemdHost {
		rmCgroup("/rung-engines-ctr/" + id)
		rmCgroup("/rung-engines-ctr")
	}
}

// taskStatus is the STATUS column of `ctr task ls` for id, "" if absent.
func (c *C) taskStatus(id string) string {
	r := c.ctd().ctr(ctrNS, 30*time.Second, "", "task", "ls")
	for _, l := range strings.Split(r.Out, "\n") {
		f := strings.Fields(l)
		if len(f) == 3 && f[0] == id {
			return f[2]
		}
	}
	return ""
}

func (c *C) waitStatus(id, want string) {
	if !waitFor(30*time.Second, func() bool { return c.taskStatus(id) == want }) {
		c.Fatalf("task %s: status %q, want %s; task ls: %s", id, c.taskStatus(id), want, c.ctr("task", "ls"))
	}
}

// rmCgroup removes the cgroupfs cgroup rel (and nothing else) in every
// v1 hierarchy or in the unified one, if empty. The engines leave the
// parents of their containers' cgroups to their users.
func rmCgroup(rel string) {
	if cgroup2 {
		os.Remove(filepath.Join("/sys/fs/cgroup", rel))
		return
	}
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*")
	for _, d := range dirs {
		os.Remove(filepath.Join(d, rel))
	}
}

// cgroupfsDir is the host directory of the cgroupfs cgroup rel: in the
// memory hierarchy on v1.
func cgroupfsDir(rel string) string {
	return filepath.Join(v12("/sys/fs/cgroup/memory", "/sys/fs/cgroup"), rel)
}

// lines is s split in lines with trailing \r and blank lines dropped.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimRight(l, "\r"); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// runtimeLeftovers lists what is left in the runtime's state root for ns.
func (c *C) runtimeLeftovers(ns string) []string {
	ents, err := os.ReadDir(filepath.Join(c.ctd().root[c.RT.Name], ns))
	if err != nil && !os.IsNotExist(err) {
		c.Fatalf("read runtime root: %v", err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestContainerd(t *testing.T) {
	// Started here, so the first scenario's time is its own.
	if _, err := containerdSetup(); err != nil {
		t.Fatalf("containerd setup: %v", err)
	}
	scenario(t, "containerd", "image import", func(c *C) {
		e := c.ctd()
		// A fresh namespace per runtime: import, list, run from it.
		ns := "rung-import-" + c.RT.Name
		c.Cleanup(func() {
			e.ctr(ns, 30*time.Second, "", "images", "rm", imageName)
			command(30*time.Second, "", nil, "ctr", "--address", e.sock, "namespaces", "rm", ns)
		})
		if r := e.ctr(ns, 120*time.Second, "", "images", "import", imageTar); r.Code != 0 || !strings.Contains(r.Out, "unpacking "+imageName) {
			c.Fatalf("import: %s", r)
		}
		r := e.ctr(ns, 30*time.Second, "", "images", "ls", "-q")
		if !contains(lines(r.Out), imageName) {
			c.Fatalf("images ls -q: %s", r)
		}
		id := c.ctrID("import")
		argv := append([]string{"run", "--rm"}, c.runtimeFlags()...)
		argv = append(argv, "--cgroup", ctrCgroup(id), imageName, id, "sh", "-c", "echo imported; cat /proc/self/comm")
		r = e.ctr(ns, 60*time.Second, "", argv...)
		c.Cleanup(func() {
			if !systemdHost {
				rmCgroup("/rung-engines-ctr")
			}
		})
		if r.Code != 0 || r.Out != "imported\ncat\n" {
			c.Fatalf("run from the imported image: %s", r)
		}
	})

	scenario(t, "containerd", "run --rm with output and exit code", func(c *C) {
		id := c.ctrID("rm")
		c.Cleanup(func() { c.ctrRemove(id) })
		r := c.ctrRun(id, []string{"--rm", "--net-host", "--env", "GREETING=hello"}, "sh", "-c", `echo "$GREETING from $(id -u)"; echo to-stderr >&2`)
		if r.Code != 0 || r.Out != "hello from 0\n" || !strings.Contains(r.Err, "to-stderr") {
			c.Fatalf("run --rm: %s", r)
		}
		r = c.ctrRun(id, []string{"--rm"}, "sh", "-c", "exit 7")
		if r.Code != 7 {
			c.Fatalf("run --rm sh -c 'exit 7': %s, want exit 7", r)
		}
		if r := c.ctr("containers", "ls", "-q"); contains(lines(r.Out), id) {
			c.Fatalf("--rm left the container: %s", r)
		}
	})

	scenario(t, "containerd", "run -d and task exec", func(c *C) {
		id := c.ctrID("exec")
		c.ctrDetached(id, nil, "sh", "-c", "echo $$ > /tmp/init.pid; while :; do sleep 3600 & wait $!; done")
		c.waitStatus(id, "RUNNING")
		r := c.ctr("task", "exec", "--exec-id", "e1", id, "sh", "-c", "echo in exec; cat /tmp/init.pid; exit 4")
		if r.Code != 4 || r.Out != "in exec\n1\n" {
			c.Fatalf("task exec: %s, want exit 4 and in exec, 1", r)
		}
		r = c.ctr("task", "exec", "--exec-id", "e2", "--cwd", "/etc", "--user", "1000", id, "sh", "-c", "pwd; id -u")
		if r.Code != 0 || r.Out != "/etc\n1000\n" {
			c.Fatalf("task exec --cwd --user: %s", r)
		}
		// An exec id in use is refused.
		c.ctrDetachedExec(id, "e3", "sleep", "3600")
		if r := c.ctr("task", "exec", "--exec-id", "e3", id, "true"); r.Code == 0 {
			c.Fatalf("a second exec with id e3 ran: %s", r)
		}
	})

	scenario(t, "containerd", "task kill", func(c *C) {
		id := c.ctrID("kill")
		logf := filepath.Join(work, id+".log")
		c.ctrDetached(id, []string{"--log-uri", "file://" + logf}, "sh", "-c", `trap "echo got TERM; exit 3" TERM; echo ready; while :; do sleep 3600 & wait $!; done`)
		c.waitStatus(id, "RUNNING")
		if !waitFor(20*time.Second, func() bool { b, _ := os.ReadFile(logf); return string(b) == "ready\n" }) {
			b, _ := os.ReadFile(logf)
			c.Fatalf("log %q, want ready", b)
		}
		c.ctrMust("task", "kill", id) // SIGTERM
		c.waitStatus(id, "STOPPED")
		if b, _ := os.ReadFile(logf); string(b) != "ready\ngot TERM\n" {
			c.Fatalf("log after TERM %q", b)
		}
		r := c.ctr("task", "rm", id)
		if r.Code != 0 || !strings.Contains(r.Err, "exit code 3") {
			c.Fatalf("task rm: %s, want the exit code 3 reported", r)
		}
		// One that ignores TERM: KILL with --all ends it and its children.
		id2 := c.ctrID("kill2")
		c.ctrDetached(id2, nil, "sh", "-c", "trap '' TERM; sleep 3600 & sleep 3600 & wait")
		c.waitStatus(id2, "RUNNING")
		c.ctrMust("task", "kill", "--all", "-s", "KILL", id2)
		c.waitStatus(id2, "STOPPED")
		r = c.ctr("task", "rm", id2)
		if r.Code != 0 || !strings.Contains(r.Err, "exit code 137") {
			c.Fatalf("task rm after KILL: %s, want exit code 137", r)
		}
	})

	scenario(t, "containerd", "task ps", func(c *C) {
		id := c.ctrID("ps")
		c.ctrDetached(id, nil, "sh", "-c", "sleep 3600 & sleep 3601 & wait")
		c.waitStatus(id, "RUNNING")
		var pids []string
		ok := waitFor(20*time.Second, func() bool {
			r := c.ctr("task", "ps", id)
			pids = nil
			for _, l := range lines(r.Out)[min(1, len(lines(r.Out))):] {
				pids = append(pids, strings.Fields(l)[0])
			}
			return len(pids) == 3
		})
		if !ok {
			c.Fatalf("task ps: %v, want the shell and two sleeps", pids)
		}
		r := c.ctr("task", "ls")
		var initPid string
		for _, l := range lines(r.Out) {
			if f := strings.Fields(l); len(f) == 3 && f[0] == id {
				initPid = f[1]
			}
		}
		var comms []string
		for _, p := range pids {
			b, err := os.ReadFile("/proc/" + p + "/cmdline")
			if err != nil {
				c.Fatalf("pid %s from task ps: %v", p, err)
			}
			comms = append(comms, strings.Join(strings.Split(strings.TrimRight(string(b), "\x00"), "\x00"), " "))
		}
		sort.Strings(comms)
		want := []string{"sh -c sleep 3600 & sleep 3601 & wait", "sleep 3600", "sleep 3601"}
		if !contains(pids, initPid) || strings.Join(comms, "|") != strings.Join(want, "|") {
			c.Fatalf("task ps: pids %v (init %s) running %q, want %q", pids, initPid, comms, want)
		}
	})

	scenario(t, "containerd", "task pause and resume", func(c *C) {
		id := c.ctrID("pause")
		c.ctrDetached(id, nil, "sh", "-c", "while :; do sleep 3600 & wait $!; done")
		c.waitStatus(id, "RUNNING")
		c.ctrMust("task", "pause", id)
		if s := c.taskStatus(id); s != "PAUSED" {
			c.Fatalf("after pause: status %q", s)
		}
		r := c.ctr("task", "ls")
		pid := ""
		for _, l := range lines(r.Out) {
			if f := strings.Fields(l); len(f) == 3 && f[0] == id {
				pid = f[1]
			}
		}
		if st := c.freezeState(pid); st != "FROZEN" {
			c.Fatalf("cgroup %s while paused", st)
		}
		c.ctrMust("task", "resume", id)
		if s := c.taskStatus(id); s != "RUNNING" {
			c.Fatalf("after resume: status %q", s)
		}
		if st := c.freezeState(pid); st != "THAWED" {
			c.Fatalf("cgroup %s after resume", st)
		}
		if r := c.ctr("task", "exec", "--exec-id", "after", id, "echo", "alive"); r.Code != 0 || r.Out != "alive\n" {
			c.Fatalf("exec after resume: %s", r)
		}
	})

	scenario(t, "containerd", "task metrics", func(c *C) {
		id := c.ctrID("metrics")
		c.ctrDetached(id, []string{"--memory-limit", "67108864"}, "sh", "-c", "sleep 3600 & wait")
		c.waitStatus(id, "RUNNING")
		var r result
		ok := waitFor(20*time.Second, func() bool {
			r = c.ctr("task", "metrics", id)
			return metric(r.Out, "pids.current") == "2"
		})
		if !ok || r.Code != 0 {
			c.Fatalf("task metrics: %s, want pids.current 2", r)
		}
		// ctr prints the v1 or the v2 statistics under their own names.
		limit, usage, cpu := v12("memory.limit_in_bytes", "memory.usage_limit"), v12("memory.usage_in_bytes", "memory.usage"), v12("cpuacct.usage", "cpu.usage_usec")
		if v := metric(r.Out, limit); v != "67108864" {
			c.Fatalf("%s %q, want 67108864: %s", limit, v, r.Out)
		}
		if v := metric(r.Out, usage); !regexp.MustCompile(`^[1-9][0-9]*$`).MatchString(v) {
			c.Fatalf("%s %q: %s", usage, v, r.Out)
		}
		if v := metric(r.Out, cpu); !regexp.MustCompile(`^[1-9][0-9]*$`).MatchString(v) {
			c.Fatalf("%s %q: %s", cpu, v, r.Out)
		}
		if systemdHost {
			pid := ""
			for _, l := range lines(c.ctrMust("task", "ls")) {
				if f := strings.Fields(l); len(f) == 3 && f[0] == id {
					pid = f[1]
				}
			}
			unit, _ := c.scopeOf(pid, ctrScope(id))
			c.wantUnitProps(unit, map[string]string{"MemoryMax": "67108864"})
		}
	})

	scenario(t, "containerd", "run --tty", func(c *C) {
		id := c.ctrID("tty")
		c.Cleanup(func() { c.ctrRemove(id) })
		e := c.ctd()
		// ctr wants a terminal on its stdin for -t: script gives it one.
		// ctr sends the window size after start, so the shell waits
		// for it (the size is 0 0 until then).
		inner := fmt.Sprintf("ctr --address %s -n %s run --rm -t %s --cgroup %s %s %s sh -c 'tty; test -t 0 && echo stdin-is-tty; i=0; while [ \"$(stty size 2>/dev/null)\" != \"30 100\" ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done; stty size; echo TERM=$TERM'",
			e.sock, ctrNS, strings.Join(c.runtimeFlags(), " "), ctrCgroup(id), imageName, id)
		r := command(60*time.Second, "", []string{"COLUMNS=100", "LINES=30"}, "script", "-qec", "stty cols 100 rows 30; "+inner, "/dev/null")
		got := lines(strings.ReplaceAll(r.Out, "^@", ""))
		want := []string{"/dev/pts/0", "stdin-is-tty", "30 100", "TERM=xterm"}
		if r.Code != 0 || strings.Join(got, "|") != strings.Join(want, "|") {
			c.Fatalf("run -t: %s; lines %q, want %q", r, got, want)
		}
	})

	scenario(t, "containerd", "no leftovers", func(c *C) {
		r := c.ctr("containers", "ls", "-q")
		for _, id := range lines(r.Out) {
			if strings.HasPrefix(id, "ctr-"+c.RT.Name+"-") {
				c.Fatalf("container %s left: %s", id, r)
			}
		}
		if left := c.runtimeLeftovers(ctrNS); len(left) != 0 {
			c.Fatalf("runtime state left under %s: %v", filepath.Join(c.ctd().root[c.RT.Name], ctrNS), left)
		}
		if systemdHost {
			c.noUnits([]string{"rungctr-*"})
			if left := cgroupsLeft("/sys/fs/cgroup/system.slice/rungctr-*"); len(left) != 0 {
				c.Fatalf("cgroups left: %q", left)
			}
		} else if _, err := os.Stat(cgroupfsDir("/rung-engines-ctr")); err == nil {
			c.Fatalf("cgroup /rung-engines-ctr left")
		}
	})
}

// ctrDetachedExec starts an exec process in the background.
func (c *C) ctrDetachedExec(id, execID string, cmd ...string) {
	r := c.ctr(append([]string{"task", "exec", "-d", "--exec-id", execID, id}, cmd...)...)
	if r.Code != 0 {
		c.Fatalf("task exec -d: %s", r)
	}
}

// metric is the VALUE column of a `ctr task metrics` table row.
func metric(table, name string) string {
	for _, l := range lines(table) {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == name {
			return strings.Join(f[1:], " ")
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
