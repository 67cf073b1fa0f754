package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// Side-by-side tests against runc (Debian's, which `make deps` installs):
// the same command on the same bundle, compared by exit code and effect.

// runc runs runc with a state root of its own under the env's directory.
// Its containers are deleted when the test ends.
func (e *env) runc(args ...string) result {
	e.t.Helper()
	bin, err := exec.LookPath("runc")
	if err != nil {
		e.t.Fatal("runc is the reference and is missing: apt-get install runc (make deps does)")
	}
	root := filepath.Join(e.dir, "runc-state")
	if _, err := os.Stat(root); os.IsNotExist(err) {
		e.t.Cleanup(func() {
			out, _ := exec.Command(bin, "--root", root, "list", "-q").Output()
			for _, id := range strings.Fields(string(out)) {
				exec.Command(bin, "--root", root, "delete", "--force", id).Run()
			}
		})
	}
	return run(exec.Command(bin, append([]string{"--root", root}, args...)...))
}

// both runs the same command with rung and with runc. An argument "ID"
// becomes id-rung and id-runc: each runtime names its default cgroup
// after the container, under the caller's cgroup, so the two must differ.
func (e *env) both(id string, args ...string) (rung, runc result) {
	e.t.Helper()
	with := func(rt string) []string {
		out := append([]string{}, args...)
		for i, a := range out {
			if a == "ID" {
				out[i] = id + "-" + rt
			}
		}
		return out
	}
	return e.rung(with("rung")...), e.runc(with("runc")...)
}

func readJSONMap(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// `rung spec` writes runc's template, field by field: only ociVersion
// (the spec version each implements) and the hostname (each runtime's
// name) may differ. `--isolation` keeps the ladder's namespace sets.
func TestSpecMatchesRunc(t *testing.T) {
	e := newEnv(t)
	ours, theirs := filepath.Join(e.dir, "rung-spec"), filepath.Join(e.dir, "runc-spec")
	os.MkdirAll(ours, 0o755)
	os.MkdirAll(theirs, 0o755)
	e.must("spec", "--bundle", ours)
	if r := e.runc("spec", "--bundle", theirs); r.code != 0 {
		t.Fatalf("runc spec: %s", r.stderr)
	}
	a, b := readJSONMap(t, filepath.Join(ours, "config.json")), readJSONMap(t, filepath.Join(theirs, "config.json"))
	if a["hostname"] != "rung" || b["hostname"] != "runc" {
		t.Errorf("hostnames %v and %v, want rung and runc", a["hostname"], b["hostname"])
	}
	for _, m := range []map[string]any{a, b} {
		delete(m, "ociVersion")
		delete(m, "hostname")
	}
	for k := range b {
		if !reflect.DeepEqual(a[k], b[k]) {
			ja, _ := json.MarshalIndent(a[k], "", " ")
			jb, _ := json.MarshalIndent(b[k], "", " ")
			t.Errorf("%s differs:\nrung: %s\nrunc: %s", k, ja, jb)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			t.Errorf("rung writes %s, runc does not", k)
		}
	}
	failed(t, "spec over an existing config.json", e.rung("spec", "--bundle", ours), "exists")

	// --isolation: the ladder's set, the rest of the template as runc's.
	iso := filepath.Join(e.dir, "iso")
	os.MkdirAll(iso, 0o755)
	e.must("spec", "--bundle", iso, "--isolation", "quantum")
	var q specs.Spec
	data, _ := os.ReadFile(filepath.Join(iso, "config.json"))
	if err := json.Unmarshal(data, &q); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ns := range q.Linux.Namespaces {
		names = append(names, string(ns.Type))
	}
	if !strings.Contains(strings.Join(names, ","), "user") || !q.Process.Terminal {
		t.Errorf("quantum template: namespaces %v, terminal %v", names, q.Process.Terminal)
	}
}

// The everyday scripted sequence: spec, then run -d --console-socket,
// with the template unedited (its `sh` waits on the terminal).
func TestSpecThenRunWithConsoleSocket(t *testing.T) {
	e := newEnv(t)
	b := filepath.Join(e.dir, "b")
	os.MkdirAll(b, 0o755)
	if out, err := exec.Command("cp", "-a", rootfsTpl, filepath.Join(b, "rootfs")).CombinedOutput(); err != nil {
		t.Fatalf("copy rootfs: %v %s", err, out)
	}
	e.must("spec", "--bundle", b)
	for _, rt := range []struct {
		name string
		run  func(args ...string) result
	}{{"rung", e.rung}, {"runc", e.runc}} {
		dir := filepath.Join(e.dir, rt.name)
		os.MkdirAll(dir, 0o755)
		sock, masters := consoleSocket(t, dir)
		id := "tty-" + rt.name
		if r := rt.run("run", "-d", "--bundle", b, "--console-socket", sock, id); r.code != 0 {
			t.Fatalf("%s run -d --console-socket on the default spec: exit %d: %s", rt.name, r.code, r.stderr)
		}
		select {
		case m := <-masters:
			if m == nil {
				t.Fatalf("%s: no pty master", rt.name)
			}
			m.Close()
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no pty master received", rt.name)
		}
		if r := rt.run("delete", "--force", id); r.code != 0 {
			t.Fatalf("%s delete: %s", rt.name, r.stderr)
		}
	}
	e.noLeftovers("tty-rung")
}

// `kill ID 0` asks whether the container runs, as with runc: exit 0 while
// it runs, 1 once it has stopped; `kill --all ID 0` of a stopped one is 0.
func TestKillSignalZero(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "strict", sleeper)
	if ours, theirs := e.both("k", "run", "-d", "--bundle", b, "ID"); ours.code != 0 || theirs.code != 0 {
		t.Fatalf("run: rung %s, runc %s", ours.stderr, theirs.stderr)
	}
	check := func(what string, want int, args ...string) {
		t.Helper()
		ours, theirs := e.both("k", args...)
		if theirs.code != want {
			t.Fatalf("%s: runc exits %d (%s), the test expected %d", what, theirs.code, theirs.stderr, want)
		}
		if ours.code != theirs.code {
			t.Errorf("%s: rung exits %d (%s), runc %d", what, ours.code, ours.stderr, theirs.code)
		}
	}
	check("kill 0 of a running container", 0, "kill", "ID", "0")
	check("kill --all 0 of a running container", 0, "kill", "--all", "ID", "0")
	check("kill -1", 1, "kill", "ID", "-1")
	e.both("k", "kill", "ID", "KILL")
	e.waitStatus("k-rung", specs.StateStopped)
	e.runcWaitStopped("k-runc")
	check("kill 0 of a stopped container", 1, "kill", "ID", "0")
	check("kill --all 0 of a stopped container", 0, "kill", "--all", "ID", "0")
	if r := e.rung("kill", "k-rung", "0"); !strings.Contains(r.stderr, "container not running") {
		t.Errorf("kill 0 of a stopped container: %q", r.stderr)
	}
	e.must("delete", "k-rung")
	e.noLeftovers("k-rung")
}

// runcWaitStopped polls runc's state of id until it reads stopped.
func (e *env) runcWaitStopped(id string) {
	e.t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if strings.Contains(e.runc("state", id).stdout, `"stopped"`) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("runc container %s never stopped", id)
		}
	}
}

// ps of a stopped container exits 0 with an empty list, as runc's: the
// host ps's header in a table, null in json.
func TestPsStopped(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "", func(s *specs.Spec) { s.Process.Args = []string{"true"} })
	for _, id := range []string{"p-rung", "p-runc"} {
		run := e.rung
		if strings.HasSuffix(id, "runc") {
			run = e.runc
		}
		if r := run("create", "--bundle", b, id); r.code != 0 {
			t.Fatalf("create %s: %s", id, r.stderr)
		}
		if r := run("start", id); r.code != 0 {
			t.Fatalf("start %s: %s", id, r.stderr)
		}
	}
	e.waitStatus("p-rung", specs.StateStopped)
	e.runcWaitStopped("p-runc")
	for _, args := range [][]string{{"ps", "ID"}, {"ps", "--format", "json", "ID"}, {"ps", "ID", "-o", "pid,comm"}} {
		ours, theirs := e.both("p", args...)
		if theirs.code != 0 {
			t.Fatalf("runc %v: exit %d %s", args, theirs.code, theirs.stderr)
		}
		if ours.code != theirs.code || ours.stdout != theirs.stdout {
			t.Errorf("%v: rung exit %d %q (%s), runc exit %d %q", args, ours.code, ours.stdout, ours.stderr, theirs.code, theirs.stdout)
		}
	}
	e.must("delete", "p-rung")
	e.noLeftovers("p-rung")
}

// A container that makes sub-cgroups of its own v1 cgroups (through a
// cgroup namespace and a writable cgroup mount, added to the default
// spec as a runc user would) and moves a process into them: delete
// --force removes it all, as runc's does.
func TestDeleteForceWithSubCgroups(t *testing.T) {
	e := newEnv(t)
	ctrls := "memory pids freezer cpu"
	if cgroupV2() {
		ctrls = "." // one hierarchy
	}
	b := e.bundle("b", "", func(s *specs.Spec) {
		s.Root.Readonly = false // for the marker file
		// runc's template has a cgroup namespace already on cgroup v2.
		has := false
		for _, ns := range s.Linux.Namespaces {
			has = has || ns.Type == specs.CgroupNamespace
		}
		if !has {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
		}
		for i, m := range s.Mounts {
			if m.Destination == "/sys/fs/cgroup" {
				var opts []string
				for _, o := range m.Options {
					if o != "ro" {
						opts = append(opts, o)
					}
				}
				s.Mounts[i].Options = opts
			}
		}
		s.Process.Args = []string{"sh", "-c", "for c in " + ctrls + "; do mkdir -p /sys/fs/cgroup/$c/sub/deeper || exit 2; done; " +
			"sleep 1000 & for c in " + ctrls + "; do echo $! > /sys/fs/cgroup/$c/sub/deeper/cgroup.procs || exit 3; done; touch /tmp/moved; wait"}
	})
	for _, rt := range []string{"rung", "runc"} {
		run := e.rung
		if rt == "runc" {
			run = e.runc
		}
		if r := run("run", "-d", "--bundle", b, "sub-"+rt); r.code != 0 {
			t.Fatalf("%s run: exit %d %s", rt, r.code, r.stderr)
		}
		waitFile(t, filepath.Join(b, "rootfs/tmp/moved"))
		os.Remove(filepath.Join(b, "rootfs/tmp/moved"))
	}
	ours, theirs := e.both("sub", "delete", "--force", "ID")
	if theirs.code != 0 {
		t.Fatalf("runc delete --force: %s", theirs.stderr)
	}
	if ours.code != 0 {
		t.Fatalf("rung delete --force: exit %d %s", ours.code, ours.stderr)
	}
	e.noLeftovers("sub-rung")
}

// hostCgroupDir is where pid's cgroup of controller ctrl is on the host;
// ctrl "" is the cgroup v2 hierarchy.
func hostCgroupDir(t *testing.T, pid int, ctrl string) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || parts[1] != ctrl {
			continue
		}
		if ctrl != "" {
			return filepath.Join("/sys/fs/cgroup", ctrl, parts[2])
		}
		if cgroupV2() {
			return filepath.Join("/sys/fs/cgroup", parts[2])
		}
		return filepath.Join("/sys/fs/cgroup/unified", parts[2])
	}
	t.Fatalf("pid %d has no %q cgroup", pid, ctrl)
	return ""
}

// cgroupOf is the path of controller ctrl's line in /proc/self/cgroup
// output.
func cgroupOf(out, ctrl string) string {
	for _, line := range strings.Split(out, "\n") {
		if parts := strings.SplitN(line, ":", 3); len(parts) == 3 && parts[1] == ctrl {
			return parts[2]
		}
	}
	return ""
}

// exec --cgroup puts the process in an existing sub-cgroup of the
// container's, per controller or in every hierarchy, and refuses a path
// that leaves the container's cgroup, as runc's does (exit 255).
func TestExecSubCgroup(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "", sleeper)
	if ours, theirs := e.both("cg", "run", "-d", "--bundle", b, "ID"); ours.code != 0 || theirs.code != 0 {
		t.Fatalf("run: rung %s, runc %s", ours.stderr, theirs.stderr)
	}
	pidOf := map[string]int{"rung": e.state("cg-rung").Pid}
	var st state
	json.Unmarshal([]byte(e.runc("state", "cg-runc").stdout), &st)
	pidOf["runc"] = st.Pid
	// On v1 the test uses two hierarchies; on v2 the one ("" below).
	ctrls := []string{"memory", "pids"}
	if cgroupV2() {
		ctrls = []string{""}
	}
	for rt, pid := range pidOf {
		for _, ctrl := range ctrls {
			if err := os.MkdirAll(filepath.Join(hostCgroupDir(t, pid, ctrl), "sub"), 0o755); err != nil {
				t.Fatalf("%s: %v", rt, err)
			}
		}
	}
	type testCase struct {
		flags     []string
		code      int
		subMemory bool // the process lands in .../sub for memory (v2: in the one hierarchy)
		subPids   bool
		msg       string
	}
	cases := []testCase{
		{[]string{"--cgroup", "memory:sub"}, 0, true, false, ""},
		{[]string{"--cgroup", "memory,pids:sub"}, 0, true, true, ""},
		{[]string{"--cgroup", "memory:/sub", "--cgroup", "pids:/"}, 0, true, false, ""},
		{[]string{"--cgroup", "memory:/"}, 0, false, false, ""},
		{[]string{"--cgroup", "sub"}, 255, false, false, "cgroup.procs"}, // sub is not in every hierarchy
		{[]string{"--cgroup", ".."}, 255, false, false, "not a sub cgroup path"},
		{[]string{"--cgroup", "memory:sub/../../x"}, 255, false, false, "not a sub cgroup path"},
		{[]string{"--cgroup", "memory:nosuch"}, 255, false, false, "no such file"},
		{[]string{"--cgroup", "whaaat:sub"}, 255, false, false, "unknown controller"},
	}
	if cgroupV2() {
		cases = []testCase{
			{[]string{"--cgroup", "sub"}, 0, true, false, ""},
			{[]string{"--cgroup", "/"}, 0, false, false, ""},
			{[]string{"--cgroup", ".."}, 255, false, false, "not a sub cgroup path"},
			{[]string{"--cgroup", "sub/../../x"}, 255, false, false, "not a sub cgroup path"},
			{[]string{"--cgroup", "nosuch"}, 255, false, false, "no such file"},
			{[]string{"--cgroup", "memory:sub"}, 255, false, false, "unknown controller"},
		}
	}
	for _, tc := range cases {
		args := append(append([]string{"exec"}, tc.flags...), "ID", "cat", "/proc/self/cgroup")
		ours, theirs := e.both("cg", args...)
		if theirs.code != tc.code {
			t.Fatalf("%v: runc exits %d (%s), the test expected %d", tc.flags, theirs.code, theirs.stderr, tc.code)
		}
		if ours.code != tc.code {
			t.Errorf("%v: rung exits %d (%s), runc %d", tc.flags, ours.code, ours.stderr, theirs.code)
			continue
		}
		if tc.code != 0 {
			if !strings.Contains(ours.stderr, tc.msg) || !strings.Contains(ours.stderr, "exec failed") {
				t.Errorf("%v: rung says %q, want %q", tc.flags, ours.stderr, tc.msg)
			}
			continue
		}
		for rt, out := range map[string]string{"rung": ours.stdout, "runc": theirs.stdout} {
			id := "cg-" + rt
			where := map[string]bool{"memory": tc.subMemory, "pids": tc.subPids}
			if cgroupV2() {
				where = map[string]bool{"": tc.subMemory}
			}
			for ctrl, inSub := range where {
				want := "/" + id
				if cgroupV2() {
					// runc's template has a cgroup namespace on v2: the
					// container's cgroup reads as its root.
					want = "/"
				}
				if inSub {
					want = strings.TrimSuffix(want, "/") + "/sub"
				}
				if got := cgroupOf(out, ctrl); !strings.HasSuffix(got, want) {
					t.Errorf("%v: %s's process is in %s cgroup %q, want .../%s", tc.flags, rt, ctrl, got, want)
				}
			}
		}
	}
	// A sibling whose name starts with the container's: still outside.
	sibling := hostCgroupDir(t, pidOf["rung"], ctrls[0]) + "x"
	if err := os.Mkdir(sibling, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(sibling)
	if r := e.rung("exec", "--cgroup", strings.TrimPrefix(ctrls[0]+":../cg-rungx", ":"), "cg-rung", "true"); r.code != 255 || !strings.Contains(r.stderr, "not a sub cgroup path") {
		t.Errorf("exec into a sibling cgroup: exit %d %s", r.code, r.stderr)
	}
	if data, _ := os.ReadFile(filepath.Join(sibling, "cgroup.procs")); len(data) != 0 {
		t.Errorf("a process landed in the sibling cgroup: %s", data)
	}
	if ours, theirs := e.both("cg", "delete", "--force", "ID"); ours.code != 0 || theirs.code != 0 {
		t.Fatalf("delete --force: rung %s, runc %s", ours.stderr, theirs.stderr)
	}
	e.noLeftovers("cg-rung")
}

// exec into a paused container is refused (exit 255) unless
// --ignore-paused; then the process joins the frozen cgroup and runs once
// the container is resumed, as with runc.
func TestExecIgnorePaused(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "", func(s *specs.Spec) { sleeper(s); s.Root.Readonly = false })
	if ours, theirs := e.both("ip", "run", "-d", "--bundle", b, "ID"); ours.code != 0 || theirs.code != 0 {
		t.Fatalf("run: rung %s, runc %s", ours.stderr, theirs.stderr)
	}
	e.both("ip", "pause", "ID")
	ours, theirs := e.both("ip", "exec", "ID", "true")
	if theirs.code != 255 || ours.code != theirs.code || !strings.Contains(ours.stderr, "--ignore-paused") {
		t.Fatalf("exec into a paused container: rung exit %d %s, runc exit %d %s", ours.code, ours.stderr, theirs.code, theirs.stderr)
	}
	bins := map[string][]string{"rung": {rungBin, "--root", e.root}, "runc": {"runc", "--root", filepath.Join(e.dir, "runc-state")}}
	for _, rt := range []string{"rung", "runc"} {
		id := "ip-" + rt
		marker := "/tmp/ran-" + rt
		cmd := exec.Command(bins[rt][0], append(bins[rt][1:], "exec", "--ignore-paused", id, "sh", "-c", "echo ran > "+marker)...)
		out, _ := os.Create(filepath.Join(e.dir, rt+".out"))
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The exec'd process is in the container's frozen cgroup...
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			var pids []int
			json.Unmarshal([]byte(run(exec.Command(bins[rt][0], append(bins[rt][1:], "ps", "--format", "json", id)...)).stdout), &pids)
			if len(pids) >= 2 {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("%s: exec --ignore-paused never joined the cgroup: %v", rt, pids)
			}
		}
		// ...so it has not run yet.
		if _, err := os.Stat(filepath.Join(b, "rootfs", marker)); err == nil {
			t.Errorf("%s: the process ran in a paused container", rt)
		}
		if r := run(exec.Command(bins[rt][0], append(bins[rt][1:], "resume", id)...)); r.code != 0 {
			t.Fatalf("%s resume: %s", rt, r.stderr)
		}
		err := cmd.Wait()
		out.Close()
		msg, _ := os.ReadFile(out.Name())
		if err != nil {
			t.Errorf("%s exec --ignore-paused: %v %s", rt, err, msg)
		}
		if data, _ := os.ReadFile(filepath.Join(b, "rootfs", marker)); string(data) != "ran\n" {
			t.Errorf("%s: the exec'd process did not run after resume: %q", rt, data)
		}
	}
	if ours, theirs := e.both("ip", "delete", "--force", "ID"); ours.code != 0 || theirs.code != 0 {
		t.Fatalf("delete --force: rung %s, runc %s", ours.stderr, theirs.stderr)
	}
	e.noLeftovers("ip-rung")
}

// The cwd is entered while the runtime still holds its privileges, as
// runc does: cwd /root (root's, mode 700) works for uid 42, and exec
// --user 0 into a container whose cwd is uid 42's, mode 700, works under
// the default capabilities (no CAP_DAC_OVERRIDE).
func TestCwdEnteredBeforePrivilegesDrop(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("root", "", func(s *specs.Spec) {
		s.Process.User = specs.User{UID: 42, GID: 42}
		s.Process.Cwd = "/root"
		s.Process.Args = []string{"pwd"}
	})
	os.Chmod(filepath.Join(b, "rootfs/root"), 0o700)
	ours, theirs := e.both("cwd", "run", "--bundle", b, "ID")
	if theirs.code != 0 || theirs.stdout != "/root\n" {
		t.Fatalf("runc: exit %d %q %s", theirs.code, theirs.stdout, theirs.stderr)
	}
	if ours.code != 0 || ours.stdout != "/root\n" {
		t.Errorf("rung: cwd /root as uid 42: exit %d %q %s", ours.code, ours.stdout, ours.stderr)
	}
	e.noLeftovers("cwd-rung")

	b = e.bundle("home", "", func(s *specs.Spec) {
		sleeper(s)
		s.Process.User = specs.User{UID: 42, GID: 42}
		s.Process.Cwd = "/home/u42"
	})
	home := filepath.Join(b, "rootfs/home/u42")
	os.Mkdir(home, 0o700)
	os.Chown(home, 42, 42)
	if ours, theirs := e.both("ex", "run", "-d", "--bundle", b, "ID"); ours.code != 0 || theirs.code != 0 {
		t.Fatalf("run: rung %s, runc %s", ours.stderr, theirs.stderr)
	}
	ours, theirs = e.both("ex", "exec", "--user", "0", "ID", "sh", "-c", "pwd; id -u; grep CapEff /proc/self/status")
	if theirs.code != 0 || !strings.HasPrefix(theirs.stdout, "/home/u42\n0\n") {
		t.Fatalf("runc exec --user 0: exit %d %q %s", theirs.code, theirs.stdout, theirs.stderr)
	}
	if ours.code != 0 || ours.stdout != theirs.stdout {
		t.Errorf("rung exec --user 0: exit %d %q %s; runc %q", ours.code, ours.stdout, ours.stderr, theirs.stdout)
	}
	if ours, theirs := e.both("ex", "delete", "--force", "ID"); ours.code != 0 || theirs.code != 0 {
		t.Fatalf("delete --force: rung %s, runc %s", ours.stderr, theirs.stderr)
	}
	e.noLeftovers("ex-rung")
}

// readMaster reads a pty master until it has seen want or 5 s passed.
func readMaster(m *os.File, want string) string {
	var out strings.Builder
	buf := make([]byte, 4096)
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(out.String(), want) && time.Now().Before(deadline); {
		m.SetReadDeadline(time.Now().Add(time.Second))
		n, _ := m.Read(buf)
		out.Write(buf[:n])
	}
	return strings.ReplaceAll(out.String(), "\r", "")
}

// With a non-root process.user, the pty slave belongs to that user, for
// run and for exec, as with runc.
func TestTTYOwner(t *testing.T) {
	e := newEnv(t)
	const show = `stat -c "owner %u %g %a" $(tty); echo end; sleep 1000`
	b := e.bundle("b", "", func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.User = specs.User{UID: 1000, GID: 1000}
		s.Process.Args = []string{"sh", "-c", show}
	})
	got := map[string][2]string{}
	for _, rt := range []string{"rung", "runc"} {
		run := e.rung
		if rt == "runc" {
			run = e.runc
		}
		dir := filepath.Join(e.dir, rt)
		os.MkdirAll(dir, 0o755)
		id := "tty-" + rt
		var outs [2]string
		for i, args := range [][]string{
			{"run", "-d", "--bundle", b, "--console-socket", "SOCK", id},
			{"exec", "-d", "-t", "--user", "1000:1000", "--console-socket", "SOCK", id, "sh", "-c", show},
		} {
			os.MkdirAll(filepath.Join(dir, fmt.Sprint(i)), 0o755)
			sock, masters := consoleSocket(t, filepath.Join(dir, fmt.Sprint(i)))
			for j := range args {
				if args[j] == "SOCK" {
					args[j] = sock
				}
			}
			if r := run(args...); r.code != 0 {
				t.Fatalf("%s %s: exit %d %s", rt, args[0], r.code, r.stderr)
			}
			var m *os.File
			select {
			case m = <-masters:
			case <-time.After(5 * time.Second):
			}
			if m == nil {
				t.Fatalf("%s %s: no pty master", rt, args[0])
			}
			// Read up to the marker: whether the newline after it came in
			// the same read is timing, not the runtime.
			outs[i] = strings.TrimRight(readMaster(m, "end"), "\r\n")
			m.Close()
		}
		got[rt] = outs
	}
	for i, what := range []string{"run", "exec"} {
		if !strings.Contains(got["runc"][i], "owner 1000 ") {
			t.Fatalf("runc %s: %q", what, got["runc"][i])
		}
		if got["rung"][i] != got["runc"][i] {
			t.Errorf("%s: rung's tty %q, runc's %q", what, got["rung"][i], got["runc"][i])
		}
	}
	if ours, theirs := e.both("tty", "delete", "--force", "ID"); ours.code != 0 || theirs.code != 0 {
		t.Fatalf("delete --force: rung %s, runc %s", ours.stderr, theirs.stderr)
	}
	e.noLeftovers("tty-rung")
}

// --debug --log F: the child's set-up stages reach the log at debug level,
// in text and in json, for run and exec, as runc's do (runc's come from
// nsexec and its Go init; rung's from init and exec's process). Without
// --debug none are logged.
func TestDebugLogsChildStages(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "", sleeper)
	bins := map[string]func(args ...string) result{"rung": e.rung, "runc": e.runc}
	childLine := map[string]string{"rung": "init: set-up complete", "runc": "child process in init()"}
	execLine := map[string]string{"rung": "exec: about to exec", "runc": "nsexec container setup"}
	for _, format := range []string{"text", "json"} {
		for _, rt := range []string{"rung", "runc"} {
			id := "dbg-" + format + "-" + rt
			log := filepath.Join(e.dir, id+".log")
			if r := bins[rt]("--debug", "--log", log, "--log-format", format, "run", "-d", "--bundle", b, id); r.code != 0 {
				t.Fatalf("%s run: %s", rt, r.stderr)
			}
			if r := bins[rt]("--debug", "--log", log, "--log-format", format, "exec", id, "true"); r.code != 0 {
				t.Fatalf("%s exec: %s", rt, r.stderr)
			}
			data, _ := os.ReadFile(log)
			var child, exec int
			for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
				var msg, level string
				if format == "json" {
					var m map[string]any
					if err := json.Unmarshal([]byte(l), &m); err != nil {
						t.Errorf("%s %s log: a line is not json: %q", rt, format, l)
						continue
					}
					msg, _ = m["msg"].(string)
					level, _ = m["level"].(string)
				} else {
					msg, level = l, "debug"
					if !strings.Contains(l, "level=debug") {
						level = ""
					}
				}
				if level != "debug" {
					continue
				}
				if strings.Contains(msg, childLine[rt]) {
					child++
				}
				if strings.Contains(msg, execLine[rt]) {
					exec++
				}
			}
			if child == 0 || exec == 0 {
				t.Errorf("%s --debug --log-format %s: %d debug lines from init, %d from exec's process:\n%s", rt, format, child, exec, data)
			}
			if r := bins[rt]("delete", "--force", id); r.code != 0 {
				t.Fatalf("%s delete: %s", rt, r.stderr)
			}
		}
	}
	log := filepath.Join(e.dir, "quiet.log")
	e.must("--log", log, "run", "-d", "--bundle", b, "quiet")
	e.must("--log", log, "exec", "quiet", "true")
	if data, _ := os.ReadFile(log); strings.Contains(string(data), "init:") || strings.Contains(string(data), "exec:") {
		t.Errorf("without --debug the log has the child's stages: %s", data)
	}
	e.must("delete", "--force", "quiet")
	e.noLeftovers("quiet")
}

// Mount options as runc reads them: rbind,ro makes only the top mount
// read-only (its submounts keep their flags), rro every mount of the tree
// (mount_setattr with AT_RECURSIVE); a read-only /dev tmpfs still gets
// /dev/pts, /dev/shm and the default devices, and is read-only after.
func TestMountOptionsAsRunc(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "subfs", filepath.Join(src, "sub")).CombinedOutput(); err != nil {
		t.Fatalf("mount a submount: %v %s", err, out)
	}
	unmounted := false
	unmount := func() {
		if !unmounted {
			exec.Command("umount", filepath.Join(src, "sub")).Run()
			unmounted = true
		}
	}
	defer unmount()
	const probe = `touch /mnt/top 2>/dev/null && echo top-rw || echo top-ro; touch /mnt/sub/f 2>/dev/null && echo sub-rw || echo sub-ro`
	for _, tc := range []struct {
		name string
		opts []string
		want string
	}{
		{"rbind-ro", []string{"rbind", "ro"}, "top-ro\nsub-rw\n"},
		{"rro", []string{"rbind", "rro"}, "top-ro\nsub-ro\n"},
		{"rbind-rnoexec-ro", []string{"rbind", "rnoexec", "ro"}, "top-ro\nsub-rw\n"},
	} {
		b := e.bundle(tc.name, "", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: src, Options: tc.opts})
			s.Process.Args = []string{"sh", "-c", probe}
		})
		ours, theirs := e.both(tc.name, "run", "--bundle", b, "ID")
		if theirs.code != 0 || theirs.stdout != tc.want {
			t.Fatalf("%s: runc exit %d %q %s, the test expected %q", tc.name, theirs.code, theirs.stdout, theirs.stderr, tc.want)
		}
		if ours.code != 0 || ours.stdout != theirs.stdout {
			t.Errorf("%s: rung exit %d %q %s, runc %q", tc.name, ours.code, ours.stdout, ours.stderr, theirs.stdout)
		}
		os.Remove(filepath.Join(src, "sub/f"))
		os.Remove(filepath.Join(src, "top"))
	}
	unmount()

	b := e.bundle("rodev", "", func(s *specs.Spec) {
		for i, m := range s.Mounts {
			if m.Destination == "/dev" {
				s.Mounts[i].Options = append(s.Mounts[i].Options, "ro")
			}
		}
		s.Process.Args = []string{"sh", "-c", `test -c /dev/null && test -c /dev/zero && test -c /dev/pts/ptmx && test -L /dev/ptmx && test -d /dev/shm && echo devices; ` +
			`echo x > /dev/null && echo null-writable; touch /dev/shm/f && echo shm-rw; touch /dev/new 2>/dev/null && echo dev-rw || echo dev-ro`}
	})
	ours, theirs := e.both("rodev", "run", "--bundle", b, "ID")
	want := "devices\nnull-writable\nshm-rw\ndev-ro\n"
	if theirs.code != 0 || theirs.stdout != want {
		t.Fatalf("read-only /dev: runc exit %d %q %s, the test expected %q", theirs.code, theirs.stdout, theirs.stderr, want)
	}
	if ours.code != 0 || ours.stdout != theirs.stdout {
		t.Errorf("read-only /dev: rung exit %d %q %s, runc %q", ours.code, ours.stdout, ours.stderr, theirs.stdout)
	}
	e.noLeftovers("rodev-rung")
}

// Device rules with access "rwa" are accepted, in the config and in an
// update, as runc accepts them; a deny rule given to update really
// denies (runc 1.1 accepts it and changes nothing: the device stays open
// to the container).
func TestDeviceRulesRwaAndUpdateDeny(t *testing.T) {
	e := newEnv(t)
	major, minor := int64(1), int64(3) // /dev/null
	b := e.bundle("b", "", func(s *specs.Spec) {
		sleeper(s)
		s.Linux.Resources.Devices = append(s.Linux.Resources.Devices,
			specs.LinuxDeviceCgroup{Allow: false, Type: "c", Major: &major, Minor: &minor, Access: "rwa"})
	})
	if ours, theirs := e.both("dev", "run", "-d", "--bundle", b, "ID"); theirs.code != 0 || ours.code != 0 {
		t.Fatalf("run with an rwa rule: rung exit %d %s, runc exit %d %s", ours.code, ours.stderr, theirs.code, theirs.stderr)
	}
	const write = "echo x > /dev/null && echo written"
	ours, theirs := e.both("dev", "exec", "ID", "sh", "-c", write)
	if ours.stdout != "written\n" || theirs.stdout != ours.stdout {
		t.Fatalf("before update (the default rules come last and allow /dev/null): rung %q %s, runc %q", ours.stdout, ours.stderr, theirs.stdout)
	}
	res := filepath.Join(e.dir, "deny.json")
	access := "rwa"
	if cgroupV2() {
		// The v2 device filter is built from canonical rules, where a
		// deny of mknod cannot be cut out of the default "c *:* m": rung
		// refuses that update, naming the field, rather than dropping it.
		os.WriteFile(res, []byte(`{"devices":[{"allow":false,"type":"c","major":1,"minor":3,"access":"rwa"}]}`), 0o644)
		failed(t, "v2 update denying mknod of one device", e.rung("update", "-r", res, "dev-rung"), "linux.resources.devices")
		access = "rw"
	}
	os.WriteFile(res, []byte(`{"devices":[{"allow":false,"type":"c","major":1,"minor":3,"access":"`+access+`"}]}`), 0o644)
	if ours, theirs := e.both("dev", "update", "-r", res, "ID"); theirs.code != 0 || ours.code != 0 {
		t.Fatalf("update with an rwa deny rule: rung exit %d %s, runc exit %d %s", ours.code, ours.stderr, theirs.code, theirs.stderr)
	}
	if r := e.rung("exec", "dev-rung", "sh", "-c", write); strings.Contains(r.stdout, "written") || !strings.Contains(r.stdout+r.stderr, "not permitted") {
		t.Errorf("after the update's deny rule /dev/null is still writable: %q %q", r.stdout, r.stderr)
	}
	if r := e.rung("exec", "dev-rung", "sh", "-c", "cat /dev/zero | head -c 3 | wc -c"); r.stdout != "3\n" {
		t.Errorf("the deny rule took other devices too: %q %s", r.stdout, r.stderr)
	}
	// Recorded: events and the next update start from it.
	data, _ := os.ReadFile(filepath.Join(e.root, "dev-rung", "state.json"))
	if !strings.Contains(string(data), `"access":"`+access+`"`) {
		t.Errorf("the update's device rule is not recorded")
	}
	if r := e.rung("update", "-r", res, "dev-rung"); r.code != 0 {
		t.Errorf("a second device update: %s", r.stderr)
	}
	if ours, theirs := e.both("dev", "delete", "--force", "ID"); ours.code != 0 || theirs.code != 0 {
		t.Fatalf("delete --force: rung %s, runc %s", ours.stderr, theirs.stderr)
	}
	e.noLeftovers("dev-rung")
}

// seccomp's ENOSYS stub, as runc's: under a profile that lists its
// architectures, names syscalls up to rseq and defaults to EPERM, a newer
// syscall (clone3) or one past any (number 1000) gets ENOSYS, so a libc
// falls back to the old call; an older syscall the profile leaves out
// (getcpu) still gets EPERM. A profile without architectures gets no stub
// (runc's rule too). The static probe makes the calls; runc runs the same
// bundle.
func TestSeccompEnosysStub(t *testing.T) {
	nr := func(name string) int {
		c, err := libseccomp.GetSyscallFromName(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return int(c)
	}
	max, getcpu, getpid, clone3 := nr("rseq"), nr("getcpu"), nr("getpid"), nr("clone3")
	var allowed []string
	for i := 0; i <= max; i++ {
		if name, err := libseccomp.ScmpSyscall(i).GetName(); err == nil && i != getcpu {
			allowed = append(allowed, name)
		}
	}
	eperm := uint(1)
	args := []string{"/bin/probe", "syscall", fmt.Sprint(getpid), fmt.Sprint(getcpu), fmt.Sprint(clone3), "1000"}
	stub := fmt.Sprintf("%d 0\n%d 1\n%d 38\n1000 38\n", getpid, getcpu, clone3)
	noStub := fmt.Sprintf("%d 0\n%d 1\n%d 1\n1000 1\n", getpid, getcpu, clone3)
	native := map[string]specs.Arch{"amd64": specs.ArchX86_64, "arm64": specs.ArchAARCH64}[goruntime.GOARCH]
	if native == "" {
		t.Fatalf("no native seccomp arch known for %s", goruntime.GOARCH)
	}
	arches := map[string][]specs.Arch{"none": nil, "native": {native}}
	wants := map[string]string{"none": noStub, "native": stub}
	if goruntime.GOARCH == "amd64" {
		arches["x86-family"] = []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
		wants["x86-family"] = stub
	}
	e := newEnv(t)
	for name, archs := range arches {
		b := e.bundle(name, "", func(s *specs.Spec) {
			s.Process.Args = args
			s.Process.Env = append(s.Process.Env, "GODEBUG=containermaxprocs=0,updatemaxprocs=0")
			s.Linux.Seccomp = &specs.LinuxSeccomp{
				DefaultAction: specs.ActErrno, DefaultErrnoRet: &eperm, Architectures: archs,
				Syscalls: []specs.LinuxSyscall{{Names: allowed, Action: specs.ActAllow}},
			}
		})
		ours, theirs := e.both(name, "run", "--bundle", b, "ID")
		if want := wants[name]; theirs.code != 0 || theirs.stdout != want {
			t.Fatalf("%s: runc exit %d %q %s, the test expected %q", name, theirs.code, theirs.stdout, theirs.stderr, want)
		}
		if ours.code != 0 || ours.stdout != theirs.stdout {
			t.Errorf("%s: rung exit %d %q %s, runc %q", name, ours.code, ours.stdout, ours.stderr, theirs.stdout)
		}
		e.noLeftovers(name + "-rung")
	}
}

// In a user namespace, a bind source below a directory only host root may
// enter (mode 700) still mounts, as runc's does: the runtime opens the
// source, in init's mount namespace, where init, root only in its
// namespace, could not reach it. And a source on a host mount that is
// read-only stays read-only: the container's root, even with
// CAP_SYS_ADMIN, cannot remount it writable (the kernel locked the
// flags when it copied the mount into the less privileged namespace).
func TestBindSourceUnreachableFromUserNamespace(t *testing.T) {
	e := newEnv(t)
	secret := filepath.Join(e.dir, "secret")
	os.MkdirAll(filepath.Join(secret, "inner"), 0o755)
	os.WriteFile(filepath.Join(secret, "inner/f"), []byte("hidden\n"), 0o644)
	os.Chmod(secret, 0o700)
	ro := filepath.Join(e.dir, "ro")
	os.Mkdir(ro, 0o777)
	os.Chmod(ro, 0o777)
	for _, args := range [][]string{{"--bind", ro, ro}, {"-o", "remount,bind,ro", ro}} {
		if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
			t.Fatalf("mount %v: %v %s", args, err, out)
		}
	}
	defer exec.Command("umount", ro).Run()
	admin := []string{"CAP_SYS_ADMIN"}
	b := e.bundle("q", "quantum", func(s *specs.Spec) {
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/mnt", Type: "bind", Source: filepath.Join(secret, "inner"), Options: []string{"rbind", "ro"}},
			specs.Mount{Destination: "/ro", Type: "bind", Source: ro, Options: []string{"rbind"}})
		c := s.Process.Capabilities
		c.Bounding, c.Effective, c.Permitted = append(c.Bounding, admin...), append(c.Effective, admin...), append(c.Permitted, admin...)
		s.Process.Args = []string{"sh", "-c", "cat /mnt/f; touch /mnt/new 2>/dev/null && echo writable || echo read-only; " +
			"mount -o remount,bind,rw /ro 2>/dev/null; touch /ro/new 2>/dev/null && echo host-ro-written || echo host-ro-kept"}
	})
	// The container's root cannot create them in a rootfs owned by host root.
	os.Mkdir(filepath.Join(b, "rootfs/mnt"), 0o755)
	os.Mkdir(filepath.Join(b, "rootfs/ro"), 0o755)
	ours, theirs := e.both("us", "run", "--bundle", b, "ID")
	want := "hidden\nread-only\nhost-ro-kept\n"
	if theirs.code != 0 || theirs.stdout != want {
		t.Fatalf("runc: exit %d %q %s, the test expected %q", theirs.code, theirs.stdout, theirs.stderr, want)
	}
	if ours.code != 0 || ours.stdout != want {
		t.Errorf("rung: exit %d %q %s", ours.code, ours.stdout, ours.stderr)
	}
	exec.Command("umount", ro).Run()
	e.noLeftovers("us-rung")
}
