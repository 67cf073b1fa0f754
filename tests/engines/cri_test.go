package engines

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The CRI tests drive the private containerd's CRI plugin with crictl, as
// the kubelet would: a pod per scenario, its runtime handler (the
// RuntimeClass) rung or runc.

const criLabel = "rung-engines-runtime"

// crictl runs crictl against the private containerd, 90 s timeout.
func (c *C) crictl(stdin string, args ...string) result {
	e := c.ctd()
	return command(90*time.Second, stdin, nil, append([]string{"crictl", "--config", e.crictl}, args...)...)
}

func (c *C) crictlMust(args ...string) string {
	r := c.crictl("", args...)
	if r.Code != 0 {
		c.Fatalf("crictl %s: %s", strings.Join(args, " "), r)
	}
	return strings.TrimSpace(r.Out)
}

// pod is a running pod sandbox.
type pod struct {
	id, name, conf, hostname string
	// cgroupParent is the pod's cgroup as the kubelet gives it: a
	// cgroupfs path, or under systemd a slice (kubepods-...-podUID.slice
	// there, rungcri-RUNTIME-NAME.slice here: each "-" a level).
	cgroupParent string
	pidMode      int
}

// parentDir is the pod's cgroup directory on the host.
func (p *pod) parentDir() string {
	if !systemdHost {
		return cgroupfsDir(p.cgroupParent)
	}
	// systemd's slice naming: a-b-c.slice is a.slice/a-b.slice/a-b-c.slice.
	parts := strings.Split(strings.TrimSuffix(p.cgroupParent, ".slice"), "-")
	dir := "/sys/fs/cgroup"
	for i := range parts {
		dir = filepath.Join(dir, strings.Join(parts[:i+1], "-")+".slice")
	}
	return dir
}

// ctrDir is the cgroup directory of container (or sandbox) id in p.
func (p *pod) ctrDir(id string) string {
	if systemdHost {
		return filepath.Join(p.parentDir(), criScope(id))
	}
	return filepath.Join(p.parentDir(), id)
}

// criScope is the scope unit of a CRI container under systemd: the CRI
// asks for "parent.slice:cri-containerd:ID".
func criScope(id string) string { return "cri-containerd-" + id + ".scope" }

// The CRI's NamespaceMode values for a pod's pid namespace.
const (
	pidPod       = 0 // shareProcessNamespace: one pid namespace for the pod
	pidContainer = 1 // the Kubernetes default: one per container
)

// writeJSON writes v as JSON to a file under the containerd dir.
func (c *C) writeJSON(name string, v any) string {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		c.Fatalf("json: %v", err)
	}
	dir := filepath.Join(c.ctd().dir, "cri-configs")
	os.MkdirAll(dir, 0o755)
	p := filepath.Join(dir, name+".json")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		c.Fatalf("write %s: %v", p, err)
	}
	return p
}

// runPod starts a pod sandbox with c's runtime handler; it is stopped and
// removed when the scenario ends.
func (c *C) runPod(name string) *pod { return c.runPodPid(name, pidContainer) }

// runPodPid is runPod with the pod's pid namespace mode (the kubelet sets
// it on the sandbox and on each container).
func (c *C) runPodPid(name string, pidMode int) *pod {
	e := c.ctd()
	p := &pod{name: c.RT.Name + "-" + name, hostname: c.RT.Name + "-" + name, pidMode: pidMode}
	p.cgroupParent = "/rung-engines-cri/" + p.name
	if systemdHost {
		p.cgroupParent = "rungcri-" + p.name + ".slice"
	}
	p.conf = c.writeJSON("pod-"+p.name, map[string]any{
		"metadata":      map[string]any{"name": p.name, "namespace": "rung-engines", "uid": "uid-" + p.name, "attempt": 0},
		"hostname":      p.hostname,
		"log_directory": filepath.Join(e.logs, p.name),
		"labels":        map[string]string{criLabel: c.RT.Name},
		"linux": map[string]any{"cgroup_parent": p.cgroupParent,
			"security_context": map[string]any{"namespace_options": map[string]any{"pid": pidMode}}},
	})
	c.Cleanup(func() {
		if p.id != "" {
			c.crictl("", "stopp", p.id)
			c.crictl("", "rmp", "-f", p.id)
		}
		// The pod's cgroup is the kubelet's to remove, not the runtime's.
		if systemdHost {
			command(30*time.Second, "", nil, "systemctl", "stop", p.cgroupParent)
		} else {
			rmCgroup(p.cgroupParent)
			rmCgroup("/rung-engines-cri")
		}
	})
	p.id = c.crictlMust("runp", "--runtime", c.RT.Name, p.conf)
	return p
}

// container creates and starts a container in p running cmd, with
// linux.resources res if not nil; it returns its id.
func (c *C) container(p *pod, name string, res map[string]any, cmd ...string) string {
	conf := map[string]any{
		"metadata": map[string]any{"name": name},
		"image":    map[string]any{"image": imageName},
		"command":  cmd,
		"log_path": name + ".log",
		"labels":   map[string]string{criLabel: c.RT.Name},
	}
	linux := map[string]any{"security_context": map[string]any{"namespace_options": map[string]any{"pid": p.pidMode}}}
	if res != nil {
		linux["resources"] = res
	}
	conf["linux"] = linux
	path := c.writeJSON("ctr-"+p.name+"-"+name, conf)
	id := c.crictlMust("create", p.id, path, p.conf)
	c.crictlMust("start", id)
	return id
}

// inspect is `crictl inspect[p] -o json` decoded.
func (c *C) inspect(what, id string) map[string]any {
	out := c.crictlMust(what, "-o", "json", id)
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		c.Fatalf("%s %s: %v: %s", what, id, err, out)
	}
	return v
}

// jget walks a decoded JSON value; "" for anything missing.
func jget(v any, path ...string) string {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[k]
	}
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return fmt.Sprintf("%.0f", x)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// exec runs cmd in container id with crictl exec and wants exit 0.
func (c *C) exec(id string, cmd ...string) string {
	r := c.crictl("", append([]string{"exec", id}, cmd...)...)
	if r.Code != 0 {
		c.Fatalf("crictl exec %s %s: %s", id, strings.Join(cmd, " "), r)
	}
	return r.Out
}

var sleeper = []string{"sh", "-c", "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done"}

func TestCRI(t *testing.T) {
	if _, err := containerdSetup(); err != nil {
		t.Fatalf("containerd setup: %v", err)
	}
	if r := command(30*time.Second, "", nil, "crictl", "--config", containerdEnv.crictl, "images", "-q", pauseName); r.Code != 0 || r.Out == "" {
		t.Fatalf("the CRI does not see the pause image %s: %s", pauseName, r)
	}

	scenario(t, "cri", "pod sandbox with an IP on eth0", func(c *C) {
		p := c.runPod("net")
		v := c.inspect("inspectp", p.id)
		ip := jget(v, "status", "network", "ip")
		if st := jget(v, "status", "state"); st != "SANDBOX_READY" {
			c.Fatalf("pod state %q", st)
		}
		if h := jget(v, "info", "runtimeHandler"); h != c.RT.Name {
			c.Fatalf("pod runtime handler %q", h)
		}
		if img := jget(v, "info", "image"); img != pauseName {
			c.Fatalf("sandbox image %q, want %s", img, pauseName)
		}
		// The handler's BinaryName really ran the sandbox.
		if log, _ := os.ReadFile(c.ctd().argvLog[c.RT.Name]); !strings.Contains(string(log), " create --bundle ") || !strings.Contains(string(log), p.id) {
			c.Fatalf("%s never created the sandbox %s: %s", c.RT.Name, p.id, tail(string(log), 2000))
		}
		if !strings.HasPrefix(ip, cniNet+".") {
			c.Fatalf("pod ip %q, not in %s.0/24", ip, cniNet)
		}
		// The sandbox's process is the pause image's entrypoint.
		pid := jget(v, "info", "pid")
		cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
		if !strings.Contains(string(cmdline), "trap 'exit 0' TERM") {
			c.Fatalf("sandbox pid %s runs %q", pid, cmdline)
		}
		id := c.container(p, "c", nil, sleeper...)
		out := c.exec(id, "ip", "-4", "-o", "addr", "show", "eth0")
		if !strings.Contains(out, "inet "+ip+"/24 ") {
			c.Fatalf("eth0 in the container: %q, want %s/24", out, ip)
		}
		out = c.exec(id, "cat", "/etc/hostname")
		if out != p.hostname+"\n" {
			c.Fatalf("/etc/hostname %q, want %s", out, p.hostname)
		}
	})

	scenario(t, "cri", "two containers share net, ipc and uts", func(c *C) {
		p := c.runPod("share")
		a := c.container(p, "a", nil, sleeper...)
		b := c.container(p, "b", nil, sleeper...)
		probe := []string{"sh", "-c", "for n in net ipc uts pid mnt; do readlink /proc/self/ns/$n; done; hostname"}
		la, lb := lines(c.exec(a, probe...)), lines(c.exec(b, probe...))
		if len(la) != 6 || len(lb) != 6 {
			c.Fatalf("probe output %q and %q", la, lb)
		}
		for i, kind := range []string{"net", "ipc", "uts"} {
			if la[i] != lb[i] {
				c.Fatalf("%s namespaces differ: %s vs %s", kind, la[i], lb[i])
			}
		}
		// The pod's namespaces are the sandbox's.
		pid := jget(c.inspect("inspectp", p.id), "info", "pid")
		if ns, _ := os.Readlink("/proc/" + pid + "/ns/net"); ns != la[0] {
			c.Fatalf("container net %s, sandbox %s", la[0], ns)
		}
		if host, _ := os.Readlink("/proc/self/ns/net"); host == la[0] {
			c.Fatalf("the pod is in the host's network namespace")
		}
		if la[3] == lb[3] || la[4] == lb[4] {
			c.Fatalf("pid or mount namespace shared: %q vs %q", la[3:5], lb[3:5])
		}
		if la[5] != p.hostname || lb[5] != p.hostname {
			c.Fatalf("hostnames %q and %q, want %s", la[5], lb[5], p.hostname)
		}
		// One sees the other's listening port on the shared loopback.
		c.exec(a, "sh", "-c", "nc -l -p 7777 -e echo from-a >/dev/null 2>&1 &")
		var got string
		waitFor(20*time.Second, func() bool {
			r := c.crictl("", "exec", b, "sh", "-c", "nc 127.0.0.1 7777 </dev/null")
			got = r.Out
			return r.Code == 0 && got == "from-a\n"
		})
		if got != "from-a\n" {
			c.Fatalf("b connecting to a's port 7777 on 127.0.0.1 got %q", got)
		}
		// And the pod's /dev/shm is one.
		c.exec(a, "sh", "-c", "echo shared > /dev/shm/marker")
		if out := c.exec(b, "cat", "/dev/shm/marker"); out != "shared\n" {
			c.Fatalf("/dev/shm/marker in b: %q", out)
		}
	})

	scenario(t, "cri", "shared pid namespace, no orphans after stop", func(c *C) {
		p := c.runPodPid("pidns", pidPod)
		a := c.container(p, "a", nil, sleeper...)
		b := c.container(p, "b", nil, "sh", "-c", "echo b-marker >/dev/null; trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done")
		// pid 1 is the sandbox's pause, and a sees b's processes.
		if out := c.exec(a, "cat", "/proc/1/cmdline"); !strings.Contains(out, "TERM INT") {
			c.Fatalf("pid 1 in a runs %q, want the pause process", out)
		}
		if out := c.exec(a, "ps", "-o", "args"); !strings.Contains(out, "b-marker") {
			c.Fatalf("a does not see b's processes: %q", out)
		}
		// a's init handles TERM and exits; its sleep, reparented to the
		// pause, must not outlive the container (the runtime's kill
		// --all and delete take it).
		apid := jget(c.inspect("inspect", a), "info", "pid")
		cg := c.cgDir(apid, "pids")
		c.crictlMust("stop", "--timeout", "30", a)
		if st := jget(c.inspect("inspect", a), "status", "exitCode"); st != "0" {
			c.Fatalf("a exit code %s, want 0 (its TERM trap)", st)
		}
		c.crictlMust("rm", a)
		if _, err := os.Stat(cg); err == nil {
			procs, _ := os.ReadFile(filepath.Join(cg, "cgroup.procs"))
			c.Fatalf("a's cgroup %s left after rm, holding %q", cg, procs)
		}
		if systemdHost {
			c.noUnits([]string{criScope(a)})
		}
		if out := c.exec(b, "ps", "-o", "args"); strings.Count(out, "\nsleep 3600\n") != 2 {
			c.Fatalf("after a went: processes in the pod %q, want b's and the pause's sleep only", out)
		}
	})

	scenario(t, "cri", "crictl exec, -i and -it", func(c *C) {
		p := c.runPod("exec")
		id := c.container(p, "c", nil, sleeper...)
		if l := lines(c.exec(id, "sh", "-c", "echo $$; id -u; pwd")); len(l) != 3 || l[0] == "1" || l[1] != "0" || l[2] != "/" {
			c.Fatalf("exec (pid not 1, uid 0, cwd /): %q", l)
		}
		r := c.crictl("", "exec", id, "sh", "-c", "exit 3")
		if r.Code == 0 || !strings.Contains(r.Err, "exit code 3") {
			c.Fatalf("exec exit 3: %s", r)
		}
		r = c.crictl("hello\nworld\n", "exec", "-i", id, "sh", "-c", "cat; echo done")
		if r.Code != 0 || r.Out != "hello\nworld\ndone\n" {
			c.Fatalf("exec -i: %s", r)
		}
		// -t wants a terminal on crictl's stdin: script gives it one.
		inner := fmt.Sprintf("crictl --config %s exec -it %s sh -c 'tty; test -t 0 && echo stdin-is-tty; test -t 1 && echo stdout-is-tty'", c.ctd().crictl, id)
		r = command(60*time.Second, "", nil, "script", "-qec", inner, "/dev/null")
		got := lines(strings.ReplaceAll(r.Out, "^@", ""))
		if r.Code != 0 || len(got) != 3 || !strings.HasPrefix(got[0], "/dev/pts/") || got[1] != "stdin-is-tty" || got[2] != "stdout-is-tty" {
			c.Fatalf("exec -it: %s; lines %q", r, got)
		}
	})

	scenario(t, "cri", "crictl logs", func(c *C) {
		p := c.runPod("logs")
		// out2 waits until err1 is in the log: stdout and stderr are
		// two pipes, so only that makes the order (and --tail 1) fixed.
		id := c.container(p, "c", nil, "sh", "-c", "echo out1; echo err1 >&2; while ! [ -e /tmp/go ]; do sleep 0.05; done; echo out2; trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done")
		var r result
		waitFor(20*time.Second, func() bool {
			r = c.crictl("", "logs", id)
			return strings.Contains(r.Err, "err1")
		})
		c.exec(id, "touch", "/tmp/go")
		waitFor(20*time.Second, func() bool {
			r = c.crictl("", "logs", id)
			return r.Out == "out1\nout2\n" && strings.Contains(r.Err, "err1")
		})
		if r.Code != 0 || r.Out != "out1\nout2\n" || strings.TrimSpace(r.Err) != "err1" {
			c.Fatalf("logs: %s", r)
		}
		if r := c.crictl("", "logs", "--tail", "1", id); r.Out != "out2\n" {
			c.Fatalf("logs --tail 1: %s", r)
		}
		data, err := os.ReadFile(filepath.Join(c.ctd().logs, p.name, "c.log"))
		if err != nil || !strings.Contains(string(data), " stdout F out1\n") || !strings.Contains(string(data), " stderr F err1\n") {
			c.Fatalf("CRI log file: %v %q", err, data)
		}
	})

	scenario(t, "cri", "crictl stop: TERM handled, TERM ignored", func(c *C) {
		p := c.runPod("stop")
		handles := c.container(p, "handles", nil, "sh", "-c", "trap 'echo got TERM; exit 0' TERM; while :; do sleep 3600 & wait $!; done")
		ignores := c.container(p, "ignores", nil, "sh", "-c", "trap '' TERM; while :; do sleep 3600 & wait $!; done")
		c.crictlMust("stop", "--timeout", "60", handles)
		v := c.inspect("inspect", handles)
		if st, code := jget(v, "status", "state"), jget(v, "status", "exitCode"); st != "CONTAINER_EXITED" || code != "0" {
			c.Fatalf("the container handling TERM: state %s, exit code %s, want exited 0 (TERM, not KILL)", st, code)
		}
		if r := c.crictl("", "logs", handles); r.Out != "got TERM\n" {
			c.Fatalf("logs of the container handling TERM: %s", r)
		}
		c.crictlMust("stop", "--timeout", "2", ignores)
		v = c.inspect("inspect", ignores)
		if st, code := jget(v, "status", "state"), jget(v, "status", "exitCode"); st != "CONTAINER_EXITED" || code != "137" {
			c.Fatalf("the container ignoring TERM: state %s, exit code %s, want exited 137 (KILLed after the timeout)", st, code)
		}
		if r := jget(v, "status", "reason"); r != "Error" {
			c.Fatalf("reason %q, want Error", r)
		}
	})

	res := map[string]any{"memory_limit_in_bytes": 67108864, "cpu_period": 100000, "cpu_quota": 50000, "cpu_shares": 512}
	scenario(t, "cri", "container resources in the cgroup", func(c *C) {
		p := c.runPod("res")
		id := c.container(p, "c", res, sleeper...)
		pid := jget(c.inspect("inspect", id), "info", "pid")
		if dir := c.cgDir(pid, "memory"); dir != p.ctrDir(id) {
			c.Fatalf("container cgroup %s, want %s", dir, p.ctrDir(id))
		}
		for _, f := range []struct {
			file cgFile
			want string
		}{
			{memMax, "67108864"},
			{cpuPeriod, v12("100000", "50000 100000")},
			{cpuQuota, v12("50000", "50000 100000")},
			{cpuShares, v12("512", c.cpuWeight(512))},
		} {
			if v := c.cgRead(pid, f.file); v != f.want {
				c.Fatalf("%s %s, want %s", f.file.name(), v, f.want)
			}
		}
		if systemdHost {
			unit, _ := c.scopeOf(pid, criScope(id))
			c.wantUnitProps(unit, map[string]string{"MemoryMax": "67108864", "CPUQuotaPerSecUSec": "500ms", "CPUWeight": c.cpuWeight(512)})
		}
		// An exec process lands in the same cgroup.
		if out := c.exec(id, "cat", "/proc/self/cgroup"); out != c.cgroupInside(pid) {
			c.Fatalf("exec's cgroup %q, init's %q", out, c.cgroupInside(pid))
		}
	})

	scenario(t, "cri", "crictl update", func(c *C) {
		p := c.runPod("update")
		id := c.container(p, "c", res, sleeper...)
		pid := jget(c.inspect("inspect", id), "info", "pid")
		c.crictlMust("update", "--memory", "134217728", "--cpu-quota", "20000", "--cpu-share", "256", id)
		for _, f := range []struct {
			file cgFile
			want string
		}{
			{memMax, "134217728"},
			{cpuQuota, v12("20000", "20000 100000")},
			{cpuPeriod, v12("100000", "20000 100000")},
			{cpuShares, v12("256", c.cpuWeight(256))},
		} {
			if v := c.cgRead(pid, f.file); v != f.want {
				c.Fatalf("after update: %s %s, want %s", f.file.name(), v, f.want)
			}
		}
		if systemdHost {
			c.wantUnitProps(criScope(id), map[string]string{"MemoryMax": "134217728", "CPUQuotaPerSecUSec": "200ms", "CPUWeight": c.cpuWeight(256)})
		}
		if out := c.exec(id, "echo", "still-running"); out != "still-running\n" {
			c.Fatalf("exec after update: %q", out)
		}
	})

	scenario(t, "cri", "OOM kill at the memory limit", func(c *C) {
		p := c.runPod("oom")
		// tail keeps a line it never ends: it grows until the limit.
		// Without swap (none here) the OOM killer takes it at 32m.
		id := c.container(p, "c", map[string]any{"memory_limit_in_bytes": 32 << 20}, "tail", "/dev/zero")
		var v map[string]any
		if !waitFor(60*time.Second, func() bool {
			v = c.inspect("inspect", id)
			return jget(v, "status", "state") == "CONTAINER_EXITED"
		}) {
			c.Fatalf("container still %s", jget(v, "status", "state"))
		}
		// containerd's TaskOOM event travels apart from TaskExit and may
		// come after it (seen on the slow VM guest): the CRI sets the
		// reason when it arrives.
		if !waitFor(10*time.Second, func() bool {
			v = c.inspect("inspect", id)
			return jget(v, "status", "exitCode") == "137" && jget(v, "status", "reason") == "OOMKilled"
		}) {
			c.Fatalf("exit code %s, reason %q; want 137, OOMKilled", jget(v, "status", "exitCode"), jget(v, "status", "reason"))
		}
		c.crictlMust("rm", id)
		if systemdHost {
			c.noUnits([]string{criScope(id)}, p.ctrDir(id))
		} else if _, err := os.Stat(p.ctrDir(id)); err == nil {
			c.Fatalf("cgroup %s left after rm", p.ctrDir(id))
		}
	})

	scenario(t, "cri", "stopp and rmp remove the pod", func(c *C) {
		p := c.runPod("rm")
		id := c.container(p, "c", nil, sleeper...)
		spid := jget(c.inspect("inspectp", p.id), "info", "pid")
		cpid := jget(c.inspect("inspect", id), "info", "pid")
		dirs := []string{p.ctrDir(p.id), p.ctrDir(id)}
		for _, d := range dirs {
			if _, err := os.Stat(d); err != nil {
				c.Fatalf("cgroup %s of the pod: %v", d, err)
			}
		}
		c.crictlMust("stopp", p.id)
		if st := jget(c.inspectp(p.id), "status", "state"); st != "SANDBOX_NOTREADY" {
			c.Fatalf("after stopp: pod state %q", st)
		}
		if st := jget(c.inspect("inspect", id), "status", "state"); st != "CONTAINER_EXITED" {
			c.Fatalf("after stopp: container state %q", st)
		}
		for _, pid := range []string{spid, cpid} {
			if _, err := os.Stat("/proc/" + pid); err == nil {
				c.Fatalf("after stopp: pid %s still there", pid)
			}
		}
		c.crictlMust("rmp", p.id)
		if out := c.crictlMust("pods", "-q", "--id", p.id); out != "" {
			c.Fatalf("pods after rmp: %q", out)
		}
		if out := c.crictlMust("ps", "-a", "-q", "--id", id); out != "" {
			c.Fatalf("containers after rmp: %q", out)
		}
		for _, x := range []string{p.id, id} {
			if _, err := os.Stat(filepath.Join(c.ctd().root[c.RT.Name], criNS, x)); err == nil {
				c.Fatalf("runtime state for %s left", x)
			}
		}
		for _, d := range dirs {
			if _, err := os.Stat(d); err == nil {
				c.Fatalf("cgroup %s left", d)
			}
		}
		if systemdHost {
			c.noUnits([]string{criScope(p.id), criScope(id)})
		}
		p.id = ""
	})

	scenario(t, "cri", "no leftovers", func(c *C) {
		if out := c.crictlMust("pods", "-q", "--label", criLabel+"="+c.RT.Name); out != "" {
			c.Fatalf("pods left: %q", out)
		}
		if out := c.crictlMust("ps", "-a", "-q", "--label", criLabel+"="+c.RT.Name); out != "" {
			c.Fatalf("containers left: %q", out)
		}
		if left := c.runtimeLeftovers(criNS); len(left) != 0 {
			c.Fatalf("runtime state left under %s: %v", filepath.Join(c.ctd().root[c.RT.Name], criNS), left)
		}
		if systemdHost {
			c.noUnits([]string{"cri-containerd-*"})
			if left := cgroupsLeft("/sys/fs/cgroup/rungcri.slice/*/*/cri-containerd-*"); len(left) != 0 {
				c.Fatalf("cgroups left: %q", left)
			}
		} else if _, err := os.Stat(cgroupfsDir("/rung-engines-cri")); err == nil {
			c.Fatalf("cgroup /rung-engines-cri left")
		}
		netns, _ := filepath.Glob(filepath.Join(c.ctd().dir, "state", "io.containerd.grpc.v1.cri", "netns", "*"))
		if len(netns) != 0 {
			c.Fatalf("pod network namespaces left: %v", netns)
		}
	})
}

func (c *C) inspectp(id string) map[string]any { return c.inspect("inspectp", id) }

// cpuWeight is the cgroup v2 cpu.weight (and the unit's CPUWeight) that
// c's runtime makes of cpu shares. rung converts as opencontainers/cgroups
// does (and current runc with it): a quadratic fit through 2 -> 1, 1024
// -> 100 and 262144 -> 10000. runc 1.1 (Debian 12's) converts linearly.
func (c *C) cpuWeight(shares float64) string {
	if c.RT.Name == "runc" {
		return fmt.Sprintf("%d", 1+((int64(shares)-2)*9999)/262142)
	}
	l := math.Log2(shares)
	return fmt.Sprintf("%.0f", math.Ceil(math.Pow(10, (l*l+125*l)/612.0-7.0/34.0)))
}

// cgroupInside is pid's /proc/PID/cgroup as a process in its cgroup
// namespace sees it: the same as the host's without one.
func (c *C) cgroupInside(pid string) string {
	data, err := os.ReadFile("/proc/" + pid + "/cgroup")
	if err != nil {
		c.Fatalf("cgroup of %s: %v", pid, err)
	}
	own, _ := os.Readlink("/proc/self/ns/cgroup")
	theirs, err := os.Readlink("/proc/" + pid + "/ns/cgroup")
	if err != nil || theirs == own {
		return string(data)
	}
	// In its own namespace, its cgroup is the root.
	if !cgroup2 {
		c.Fatalf("pid %s has a cgroup namespace on a v1 host", pid)
	}
	return "0::/\n"
}
