package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func sleeper(s *specs.Spec) { s.Process.Args = []string{"sleep", "1000"} }

func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "strict", sleeper)
	pidFile := filepath.Join(e.dir, "init.pid")
	e.must("create", "--bundle", b, "--pid-file", pidFile, "c1")

	st := e.state("c1")
	if st.Status != specs.StateCreated || st.ID != "c1" || st.Bundle != b || st.Rootfs != filepath.Join(b, "rootfs") {
		t.Fatalf("state after create: %+v", st)
	}
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(string(raw), "\n") || string(raw) != strconv.Itoa(st.Pid) {
		t.Fatalf("pid file %q, state pid %d", raw, st.Pid)
	}
	if st.Isolation.Rung != "strict" || !st.Isolation.Verified ||
		strings.Join(st.Isolation.Extras, ",") != "uts,cgroup" {
		t.Fatalf("isolation: %+v", st.Isolation)
	}
	// init waits for start: it is alive and has not exec'd the user process.
	if cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(st.Pid) + "/cmdline"); !strings.HasPrefix(string(cmd), "rung\x00init") {
		t.Fatalf("created init runs %q", cmd)
	}
	// The runtime spec: deleting a container that is not stopped is an
	// error and changes nothing (crun agrees; runc deletes created ones).
	e.mustFail(t, "not stopped: created", "delete", "c1")
	if st := e.state("c1"); st.Status != specs.StateCreated {
		t.Fatalf("created container after a refused delete: %s", st.Status)
	}
	e.must("delete", "--force", "c1")
	e.noLeftovers("c1")

	e.must("create", "--bundle", b, "c2")
	e.must("start", "c2")
	st = e.state("c2")
	if st.Status != specs.StateRunning {
		t.Fatalf("after start: %s", st.Status)
	}
	if cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(st.Pid) + "/cmdline"); string(cmd) != "sleep\x001000\x00" {
		t.Fatalf("running container process is %q, want sleep 1000", cmd)
	}
	if r := e.rung("start", "c2"); r.code == 0 {
		t.Fatal("second start of a running container succeeded")
	}
	e.mustFail(t, "cannot delete container c2 that is not stopped: running", "delete", "c2")
	e.must("kill", "c2", "KILL")
	st = e.waitStatus("c2", specs.StateStopped)
	if st.Pid != 0 {
		t.Fatalf("stopped container shows pid %d", st.Pid)
	}
	e.mustFail(t, "container not running", "kill", "c2")
	e.must("delete", "c2")
	e.noLeftovers("c2")
	if r := e.rung("state", "c2"); r.code != 1 || !strings.Contains(r.stderr, "container does not exist") {
		t.Fatalf("state after delete: exit %d %s", r.code, r.stderr)
	}
}

func TestKillSignals(t *testing.T) {
	e := newEnv(t)
	// The shell traps TERM and USR1 and reports them on a file in /tmp.
	b := e.bundle("b", "strict", func(s *specs.Spec) {
		s.Root.Readonly = false
		s.Process.Args = []string{"sh", "-c", `trap 'echo usr1 >> /tmp/got' USR1; trap 'echo term >> /tmp/got; exit 0' TERM; echo ready > /tmp/ready; while :; do sleep 0.05; done`}
	})
	e.must("run", "--detach", "--bundle", b, "k")
	waitFile(t, filepath.Join(b, "rootfs/tmp/ready"))
	got := filepath.Join(b, "rootfs/tmp/got")
	// Standard signals do not queue: wait for each to be seen.
	for i, sig := range []string{"USR1", "SIGUSR1", "10"} {
		e.must("kill", "k", sig)
		waitLines(t, got, i+1)
	}
	e.must("kill", "k") // SIGTERM by default
	e.waitStatus("k", specs.StateStopped)
	if data, _ := os.ReadFile(got); string(data) != "usr1\nusr1\nusr1\nterm\n" {
		t.Fatalf("signals seen in the container: %q", data)
	}
	if r := e.rung("kill", "k", "NOTASIGNAL"); r.code == 0 {
		t.Fatal("unknown signal accepted")
	}
	e.must("delete", "k")
	e.noLeftovers("k")
}

func TestKillAllAndForceDelete(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "strict", func(s *specs.Spec) {
		s.Process.Args = []string{"sh", "-c", "sleep 1000 & sleep 1000 & wait"}
	})
	e.must("run", "--detach", "--bundle", b, "all")
	e.must("kill", "--all", "all", "KILL")
	e.waitStatus("all", specs.StateStopped)
	e.must("delete", "all")
	e.noLeftovers("all")

	e.must("run", "--detach", "--bundle", b, "force")
	e.must("delete", "--force", "force")
	e.noLeftovers("force")
	if r := e.rung("delete", "--force", "force"); r.code != 0 {
		t.Fatalf("delete --force of a missing container: %s", r.stderr)
	}
	e.mustFail(t, "container does not exist", "delete", "force")
}

func TestRunExitCodes(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		script string
		want   int
	}{
		{"exit 0", 0},
		{"exit 3", 3},
		{"kill -KILL $$", 128 + 9},
		{"kill -TERM $$; sleep 1", 128 + 15},
	} {
		b := e.bundle("b"+strconv.Itoa(tc.want), "strict", func(s *specs.Spec) {
			// In its own pid namespace the shell is PID 1, which ignores
			// signals it has no handler for; a child shell does not.
			s.Process.Args = []string{"sh", "-c", "sh -c '" + tc.script + "'; exit $?"}
		})
		id := "exit" + strconv.Itoa(tc.want)
		r := e.rung("run", "--bundle", b, id)
		if r.code != tc.want {
			t.Errorf("%q: exit %d, want %d (%s)", tc.script, r.code, tc.want, r.stderr)
		}
		e.noLeftovers(id)
	}
	b := e.bundle("missing", "strict", func(s *specs.Spec) { s.Process.Args = []string{"no-such-command"} })
	r := e.rung("run", "--bundle", b, "missing")
	failed(t, "missing command", r, `no-such-command\": executable file not found in $PATH`)
	e.noLeftovers("missing")
}

func TestRunForegroundOutputAndDetach(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "strict", func(s *specs.Spec) { s.Process.Args = []string{"echo", "hello from rung"} })
	r := e.must("run", "--bundle", b, "fg")
	if r.stdout != "hello from rung\n" {
		t.Fatalf("stdout %q", r.stdout)
	}
	e.noLeftovers("fg")

	b = e.bundle("d", "strict", sleeper)
	e.must("run", "-d", "--bundle", b, "bg")
	if st := e.state("bg"); st.Status != specs.StateRunning {
		t.Fatalf("detached run: %s", st.Status)
	}
	e.must("delete", "-f", "bg")
	e.noLeftovers("bg")
}

func TestList(t *testing.T) {
	e := newEnv(t)
	if r := e.must("list", "--format", "json"); strings.TrimSpace(r.stdout) != "null" {
		t.Fatalf("empty list json: %q", r.stdout)
	}
	b := e.bundle("b", "strict", sleeper)
	e.must("create", "--bundle", b, "l2")
	e.must("run", "-d", "--bundle", b, "l1")

	if r := e.must("list", "-q"); r.stdout != "l1\nl2\n" {
		t.Fatalf("list -q: %q", r.stdout)
	}
	var states []state
	if err := json.Unmarshal([]byte(e.must("list", "--format", "json").stdout), &states); err != nil {
		t.Fatal(err)
	}
	if len(states) != 2 || states[0].Status != "running" || states[1].Status != "created" || states[0].Owner != "root" {
		t.Fatalf("list json: %+v", states)
	}
	table := strings.Split(strings.TrimSpace(e.must("list").stdout), "\n")
	if len(table) != 3 || !strings.HasPrefix(table[0], "ID          PID         STATUS      BUNDLE") ||
		!strings.HasPrefix(table[1], "l1 ") || !strings.Contains(table[1], " running ") || !strings.HasSuffix(table[2], " root") {
		t.Fatalf("list table:\n%s", strings.Join(table, "\n"))
	}
}

func TestJSONLogHasOneErrorObject(t *testing.T) {
	e := newEnv(t)
	logf := filepath.Join(e.dir, "log.json")
	r := e.rung("--log", logf, "--log-format", "json", "state", "nope")
	if r.code != 1 || strings.TrimSpace(r.stderr) != "container does not exist" {
		t.Fatalf("exit %d stderr %q", r.code, r.stderr)
	}
	data, err := os.ReadFile(logf)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var entry map[string]string
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &entry) != nil ||
		entry["level"] != "error" || entry["msg"] != "container does not exist" || entry["time"] == "" {
		t.Fatalf("log: %q", data)
	}
}

func TestVersion(t *testing.T) {
	r := run(execCommand(rungBin, "--version"))
	lines := strings.Split(r.stdout, "\n")
	if r.code != 0 || !strings.HasPrefix(lines[0], "rung version ") || !strings.HasPrefix(lines[1], "spec: 1.") {
		t.Fatalf("--version: %q", r.stdout)
	}
}

func TestFeatures(t *testing.T) {
	r := run(execCommand(rungBin, "features"))
	var f struct {
		OCIVersionMax string   `json:"ociVersionMax"`
		Hooks         []string `json:"hooks"`
		MountOptions  []string `json:"mountOptions"`
		Linux         struct {
			Namespaces []string `json:"namespaces"`
			Seccomp    struct {
				Enabled bool     `json:"enabled"`
				Actions []string `json:"actions"`
			} `json:"seccomp"`
			Apparmor struct {
				Enabled bool `json:"enabled"`
			} `json:"apparmor"`
		} `json:"linux"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &f); err != nil || r.code != 0 {
		t.Fatalf("features: %v %s", err, r.stderr)
	}
	if len(f.Hooks) != 6 || len(f.Linux.Namespaces) != 8 || !f.Linux.Seccomp.Enabled || f.Linux.Apparmor.Enabled ||
		!strings.HasPrefix(f.OCIVersionMax, "1.") || !strings.Contains(strings.Join(f.MountOptions, ","), "rbind") ||
		!strings.Contains(strings.Join(f.Linux.Seccomp.Actions, ","), "SCMP_ACT_NOTIFY") {
		t.Fatalf("features: %s", r.stdout)
	}
}

// TestRunOfAProcessThatExitsAtOnce: `run` of a process that exits the
// moment it starts succeeds every time. start used to look at init only
// after letting it go, and on a busy machine found it already exited:
// "container not running". The machine is kept busy on purpose.
func TestRunOfAProcessThatExitsAtOnce(t *testing.T) {
	e := newEnv(t)
	for range 3 {
		hog := exec.Command("sh", "-c", "while :; do :; done")
		if err := hog.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { hog.Process.Kill(); hog.Wait() }()
	}
	b := e.bundle("b", "strict", func(s *specs.Spec) { s.Process.Args = []string{"true"} })
	for i := range 40 {
		if r := e.rung("run", "--bundle", b, fmt.Sprint("c", i)); r.code != 0 {
			t.Fatalf("run %d: exit %d %q", i, r.code, r.stderr)
		}
	}
	e.noLeftovers("c0")
}
