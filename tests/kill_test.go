package tests

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rungrt/rung/internal/killpoint"
)

// callBound is how long any rung call may take before the test calls it
// a hang.
const callBound = 30 * time.Second

// bounded runs rung with this env's --root, extra environment and a
// bound: a call that does not return within it fails the test.
func (e *env) bounded(extraEnv []string, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callBound)
	defer cancel()
	cmd := exec.CommandContext(ctx, rungBin, append([]string{"--root", e.root}, args...)...)
	cmd.Env = append(os.Environ(), extraEnv...)
	r := run(cmd)
	if ctx.Err() != nil {
		e.t.Fatalf("rung %s: no answer within %s", strings.Join(args, " "), callBound)
	}
	return r
}

// killed reports whether r is a rung that died of SIGKILL.
func killed(r result) bool { return r.code == -1 && strings.Contains(r.stderr, "killed") }

// recovers checks what must hold after rung was killed with container id
// half-done: state and list answer (state with the container or with
// "does not exist"), delete --force removes everything, and nothing of
// the container is left.
func (e *env) recovers(id string) {
	e.t.Helper()
	if r := e.bounded(nil, "state", id); r.code != 0 && !strings.Contains(r.stderr, "container does not exist") {
		e.t.Errorf("state %s after the kill: exit %d %q", id, r.code, r.stderr)
	}
	if r := e.bounded(nil, "list"); r.code != 0 {
		e.t.Errorf("list after the kill: exit %d %q", r.code, r.stderr)
	}
	if r := e.bounded(nil, "delete", "--force", id); r.code != 0 {
		e.t.Errorf("delete --force %s after the kill: exit %d %q", id, r.code, r.stderr)
	}
	e.noLeftovers(id)
	failed(e.t, "state "+id+" after delete", e.bounded(nil, "state", id), "container does not exist")
}

// killBundles are the two shapes whose teardown differs: a container in
// namespaces of its own, and one in the host's, whose rootfs copy is
// stacked on the host's mount table.
func killBundles(e *env) map[string]string {
	return map[string]string{
		"strict": e.bundle("strict", "strict", sleeper),
		"none": e.hostNSBundle("none", func(s *specs.Spec) {
			s.Mounts = []specs.Mount{{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "mode=755"}}}
			s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
		}),
	}
}

// lastStep is the last kill point a traced rung passed, "" for none.
func lastStep(trace string) string {
	data, _ := os.ReadFile(trace)
	lines := strings.Fields(string(data))
	if len(lines) == 0 {
		return ""
	}
	return lines[len(lines)-1]
}

// TestKillAtEveryStep SIGKILLs rung at each named kill point of create,
// start, run, exec and delete (issue 15 §2), on a container with
// namespaces of its own and on one in the host's namespaces, and checks
// that state, list and delete --force work afterwards and leave nothing.
func TestKillAtEveryStep(t *testing.T) {
	e := newEnv(t)
	bundles := killBundles(e)
	var shapes []string
	for k := range bundles {
		shapes = append(shapes, k)
	}
	sort.Strings(shapes)
	n := 0
	for _, shape := range shapes {
		b := bundles[shape]
		for _, cmd := range []string{"create", "start", "run", "exec", "delete"} {
			for _, step := range killpoint.All[cmd] {
				if step == killpoint.CreateHostRoot && shape != "none" {
					continue // only a container without a mount namespace has one
				}
				n++
				id := fmt.Sprintf("k%d", n)
				trace := filepath.Join(e.dir, id+".trace")
				kenv := []string{killpoint.Env + "=" + step, killpoint.TraceEnv + "=" + trace}
				var r result
				switch cmd {
				case "create":
					r = e.bounded(kenv, "create", "--bundle", b, id)
				case "start":
					e.must("create", "--bundle", b, id)
					r = e.bounded(kenv, "start", id)
				case "run":
					if step == killpoint.RunExited {
						// A process that exits at once: run reaches its delete.
						e.editSpec(b, func(s *specs.Spec) { s.Process.Args = []string{"true"} })
						r = e.bounded(kenv, "run", "--bundle", b, id)
						e.editSpec(b, func(s *specs.Spec) { s.Process.Args = []string{"sleep", "1000"} })
					} else {
						r = e.bounded(kenv, "run", "--bundle", b, id)
					}
				case "exec":
					e.must("run", "-d", "--bundle", b, id)
					r = e.bounded(kenv, "exec", id, "sleep", "1000")
				case "delete":
					e.must("run", "-d", "--bundle", b, id)
					r = e.bounded(kenv, "delete", "--force", id)
				}
				if !killed(r) || lastStep(trace) != step {
					t.Errorf("%s %s killed at %s: exit %d %q, last step %q: the kill point was not reached", shape, cmd, step, r.code, r.stderr, lastStep(trace))
				}
				if cmd == "exec" {
					// The container outlives a killed exec.
					if st := e.state(id); st.Status != "running" {
						t.Errorf("%s: exec killed at %s left the container %s", shape, step, st.Status)
					}
				}
				if cmd == "start" {
					// A start killed once init is released leaves the
					// container running, and says so; a second start
					// returns at once either way.
					// (init closes its handle on the fifo a moment after it
					// wrote the byte start read: wait for that, bounded.)
					if step == killpoint.StartRead || step == killpoint.StartRemoved || step == killpoint.StartDone {
						e.waitStatus(id, "running")
					}
					if r := e.bounded(nil, "start", id); r.code == 0 && step != killpoint.StartBegin && step != killpoint.StartFifo {
						t.Errorf("%s: second start after a start killed at %s succeeded", shape, step)
					}
				}
				e.recovers(id)
			}
		}
	}
	t.Logf("%d kill points passed and recovered from", n)
}

// TestKillAtRandom SIGKILLs rung after a random 0..N ms in one of create,
// start, exec, delete or a foreground run, over many iterations, and
// reports where the kills landed (the last kill point each traced rung
// passed). RUNG_KILL_ITERATIONS sets the count (default 100, about 35 s
// here) for a longer soak.
func TestKillAtRandom(t *testing.T) {
	iters := 100
	if v, err := strconv.Atoi(os.Getenv("RUNG_KILL_ITERATIONS")); err == nil && v > 0 {
		iters = v
	}
	e := newEnv(t)
	bundles := killBundles(e)
	shapes := []string{"none", "strict"}
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	landed := map[string]int{}
	for i := 0; i < iters && !t.Failed(); i++ {
		shape := shapes[rng.Intn(len(shapes))]
		b := bundles[shape]
		cmd := []string{"create", "start", "exec", "delete", "run"}[rng.Intn(5)]
		id := fmt.Sprintf("r%d", i)
		trace := filepath.Join(e.dir, id+".trace")
		switch cmd {
		case "start":
			e.must("create", "--bundle", b, id)
		case "exec", "delete":
			e.must("run", "-d", "--bundle", b, id)
		}
		var args []string
		switch cmd {
		case "create", "run":
			args = []string{cmd, "--bundle", b, id}
		case "start":
			args = []string{"start", id}
		case "exec":
			args = []string{"exec", id, "true"}
		case "delete":
			args = []string{"delete", "--force", id}
		}
		c := exec.Command(rungBin, append([]string{"--root", e.root}, args...)...)
		c.Env = append(os.Environ(), killpoint.TraceEnv+"="+trace)
		c.Stdout, c.Stderr = nil, nil
		if cmd == "run" {
			// Exits at once: the kill may land in its wait or delete.
			e.editSpec(b, func(s *specs.Spec) { s.Process.Args = []string{"true"} })
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		// About each command's length here, so kills land all along it.
		maxDelay := map[string]int{"create": 60, "start": 10, "exec": 30, "delete": 20, "run": 100}[cmd]
		delay := time.Duration(rng.Intn(maxDelay)) * time.Millisecond
		where := ""
		select {
		case <-done:
			where = cmd + ":finished"
		case <-time.After(delay):
			_ = c.Process.Signal(syscall.SIGKILL)
			select {
			case <-done:
			case <-time.After(callBound):
				t.Fatalf("%s did not die of SIGKILL", cmd)
			}
			where = cmd + ":" + lastStep(trace)
			if lastStep(trace) == "" {
				where = cmd + ":before-first-step"
			}
		}
		if cmd == "run" {
			e.editSpec(b, func(s *specs.Spec) { s.Process.Args = []string{"sleep", "1000"} })
		}
		landed[where]++
		e.recovers(id)
	}
	var keys []string
	for k := range landed {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var report strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&report, "\n  %-36s %d", k, landed[k])
	}
	t.Logf("%d iterations; kills landed:%s", iters, report.String())
}

// TestCorruptStateDeleteForce: a running container whose state file was
// truncated (a full disk, a crash of something else) reads as a clear
// error in state, is skipped by list, refused by a plain delete, and
// delete --force still removes it all, from what the state directory
// records apart from the state file: its cgroup with every process in it
// and its rootfs copy on the host. The old binary failed delete --force.
func TestCorruptStateDeleteForce(t *testing.T) {
	e := newEnv(t)
	for shape, b := range killBundles(e) {
		id := "corrupt-" + shape
		e.must("run", "-d", "--bundle", b, id)
		pid := e.state(id).Pid
		for _, content := range []string{"", "{\"id\": \"" + id + "\", \"pi"} {
			if err := os.WriteFile(filepath.Join(e.root, id, "state.json"), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			failed(t, shape+": state with a corrupt state file", e.bounded(nil, "state", id), "corrupt state file")
			if r := e.bounded(nil, "list", "-q"); r.code != 0 || strings.Contains(r.stdout, id) {
				t.Errorf("%s: list with a corrupt state file: exit %d %q %q", shape, r.code, r.stdout, r.stderr)
			}
			failed(t, shape+": delete without force of a corrupt state", e.bounded(nil, "delete", id), "corrupt state file")
		}
		if err := syscall.Kill(pid, 0); err != nil {
			t.Fatalf("%s: the container died before delete --force: %v", shape, err)
		}
		if r := e.bounded(nil, "delete", "--force", id); r.code != 0 {
			t.Errorf("%s: delete --force of a corrupt state: exit %d %q", shape, r.code, r.stderr)
		}
		e.noLeftovers(id)
	}
}
