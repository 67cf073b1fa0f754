package tests

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
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
	if r := e.rung("spec", "--bundle", ours); r.code == 0 || !strings.Contains(r.stderr, "exists") {
		t.Errorf("spec over an existing config.json: exit %d %s", r.code, r.stderr)
	}

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
	b := e.bundle("b", "", func(s *specs.Spec) {
		s.Root.Readonly = false // for the marker file
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
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
