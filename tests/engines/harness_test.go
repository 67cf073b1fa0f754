package engines

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// C is one scenario run with one runtime. Its checks stop the scenario
// like t.Fatalf does; whether that fails the test depends on the runtime
// (see scenario).
type C struct {
	t        *testing.T
	RT       runtimeBin
	failure  string
	cleanups []func()
}

// Fatalf records the failure and ends the scenario.
func (c *C) Fatalf(format string, args ...any) {
	c.failure = fmt.Sprintf(format, args...)
	goruntime.Goexit()
}

func (c *C) Logf(format string, args ...any) {
	c.t.Logf("[%s] "+format, append([]any{c.RT.Name}, args...)...)
}

// Cleanup registers f to run when the scenario ends, last first.
func (c *C) Cleanup(f func()) { c.cleanups = append(c.cleanups, f) }

// scenario runs body once per runtime, rung first. A failure with rung
// fails the test; a failure with runc is logged and reported, as the
// reference behaving differently from the expectation is a finding, not
// a rung bug.
func scenario(t *testing.T, engine, name string, body func(c *C)) {
	t.Helper()
	for _, rt := range runtimes {
		rt := rt
		t.Run(rt.Name+"/"+name, func(t *testing.T) {
			c := &C{t: t, RT: rt}
			start := time.Now()
			done := make(chan struct{})
			go func() {
				defer close(done)
				defer func() {
					for i := len(c.cleanups) - 1; i >= 0; i-- {
						c.cleanups[i]()
					}
				}()
				body(c)
			}()
			<-done
			report.add(engine, name, rt.Name, c.failure, time.Since(start))
			if c.failure == "" {
				return
			}
			if rt.Name == "rung" {
				t.Errorf("%s %s with rung: %s", engine, name, c.failure)
			} else {
				t.Logf("%s %s with %s (the reference) differs: %s", engine, name, rt.Name, c.failure)
			}
		})
	}
}

// result is a finished command.
type result struct {
	Out, Err string
	Code     int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.Code, strings.TrimSpace(r.Out), strings.TrimSpace(r.Err))
}

// command runs argv with a timeout; its output goes through files, not
// pipes, so a daemonised child holding them cannot keep it waiting.
func command(timeout time.Duration, stdin string, env []string, argv ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	out, _ := os.CreateTemp(work, "out-")
	errf, _ := os.CreateTemp(work, "err-")
	defer os.Remove(out.Name())
	defer os.Remove(errf.Name())
	defer out.Close()
	defer errf.Close()
	cmd.Stdout, cmd.Stderr = out, errf
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
	}
	o, _ := os.ReadFile(out.Name())
	e, _ := os.ReadFile(errf.Name())
	if ctx.Err() != nil {
		e = append(e, fmt.Sprintf("\n(timed out after %s)", timeout)...)
		code = -1
	} else if code == -1 {
		e = append(e, err.Error()...)
	}
	return result{string(o), string(e), code}
}

// waitFor polls cond every 100ms for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// daemon is a background engine daemon the tests started.
type daemon struct {
	name string
	cmd  *exec.Cmd
	log  string
}

var (
	daemonsMu sync.Mutex
	daemons   []*daemon
)

// startDaemon starts argv in the background with its output in a log file
// under work, and waits until ready returns true.
func startDaemon(name string, ready func() bool, argv ...string) (*daemon, error) {
	logPath := filepath.Join(work, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// A test binary killed by its timeout must not leave the daemon.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	d := &daemon{name: name, cmd: cmd, log: logPath}
	daemonsMu.Lock()
	daemons = append(daemons, d)
	daemonsMu.Unlock()
	exited := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(exited) }()
	ok := waitFor(60*time.Second, func() bool {
		select {
		case <-exited:
			return true
		default:
			return ready()
		}
	})
	select {
	case <-exited:
		data, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("%s exited: %s", name, tail(string(data), 2000))
	default:
	}
	if !ok {
		data, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("%s not ready after 60s: %s", name, tail(string(data), 2000))
	}
	return d, nil
}

// atExit registers what stopDaemons undoes after the daemons are gone
// (host state a daemon's plugins create and do not remove).
func atExit(f func()) {
	daemonsMu.Lock()
	defer daemonsMu.Unlock()
	exits = append(exits, f)
}

var exits []func()

// stopDaemons ends every daemon with TERM, then KILL.
func stopDaemons() {
	daemonsMu.Lock()
	defer daemonsMu.Unlock()
	for i := len(daemons) - 1; i >= 0; i-- {
		d := daemons[i]
		d.cmd.Process.Signal(os.Interrupt)
		if !waitFor(15*time.Second, func() bool { return d.cmd.ProcessState != nil }) {
			d.cmd.Process.Kill()
		}
	}
	daemons = nil
	for i := len(exits) - 1; i >= 0; i-- {
		exits[i]()
	}
	exits = nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// report collects each scenario's outcome and time per runtime.
var report = &reportT{rows: map[[2]string]map[string]outcome{}}

type outcome struct {
	failure string
	took    time.Duration
}

type reportT struct {
	mu    sync.Mutex
	order [][2]string
	rows  map[[2]string]map[string]outcome
}

func (r *reportT) add(engine, scenario, rt, failure string, took time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := [2]string{engine, scenario}
	if r.rows[k] == nil {
		r.rows[k] = map[string]outcome{}
		r.order = append(r.order, k)
	}
	r.rows[k][rt] = outcome{failure, took}
}

// write prints the side-by-side table to stdout and to
// tests/.cache/engines-report.txt, or the file RUNG_ENGINES_REPORT names
// (go test hides a passing package's output; .ci/run and the VM test
// print the file).
func (r *reportT) write() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.order) == 0 {
		return
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "host: %s\n", hostShape())
	cell := func(o outcome, ok bool) string {
		switch {
		case !ok:
			return "-"
		case o.failure == "":
			return fmt.Sprintf("ok %6.2fs", o.took.Seconds())
		default:
			return fmt.Sprintf("FAIL %4.2fs", o.took.Seconds())
		}
	}
	fmt.Fprintf(&b, "%-12s %-44s %-12s %-12s\n", "engine", "scenario", "rung", "runc")
	totals := map[string]map[string]time.Duration{}
	var engines []string
	var notes []string
	for _, k := range r.order {
		row := r.rows[k]
		rung, okRung := row["rung"]
		runc, okRunc := row["runc"]
		fmt.Fprintf(&b, "%-12s %-44s %-12s %-12s\n", k[0], k[1], cell(rung, okRung), cell(runc, okRunc))
		if totals[k[0]] == nil {
			totals[k[0]] = map[string]time.Duration{}
			engines = append(engines, k[0])
		}
		for rt, o := range row {
			totals[k[0]][rt] += o.took
			if o.failure != "" {
				notes = append(notes, fmt.Sprintf("%s %s with %s: %s", k[0], k[1], rt, o.failure))
			}
		}
	}
	for _, e := range engines {
		tr, tc := totals[e]["rung"], totals[e]["runc"]
		ratio := 0.0
		if tc > 0 {
			ratio = tr.Seconds() / tc.Seconds()
		}
		fmt.Fprintf(&b, "%-12s %-44s %-12s %-12s rung/runc %.2f\n", e, "total", fmt.Sprintf("%.1fs", tr.Seconds()), fmt.Sprintf("%.1fs", tc.Seconds()), ratio)
	}
	sort.Strings(notes)
	for _, n := range notes {
		fmt.Fprintln(&b, "FAIL:", n)
	}
	os.Stdout.Write(b.Bytes())
	path := os.Getenv("RUNG_ENGINES_REPORT")
	if path == "" {
		path = "../.cache/engines-report.txt"
	}
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, b.Bytes(), 0o644)
}
