package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// cmdTimeout bounds one runtime command, so that a hung runtime costs a
// recorded failure rather than the whole benchmark.
const cmdTimeout = 30 * time.Second

// runtime is one OCI runtime under measurement, with its own state root so
// that no runtime ever sees another's containers.
type runtime struct {
	*runner
	name    string
	bin     string
	root    string
	version string // first line of --version
	broken  string // why the runtime is left out, "" while usable
}

func newRuntime(r *runner, name, bin string) *runtime {
	return &runtime{runner: r, name: name, bin: bin, root: filepath.Join(r.work, "root-"+name)}
}

// runner runs commands and measures them; all runtimes share one.
type runner struct {
	work string   // where command output files go
	rss  *exitRSS // nil: peak RSS falls back to ru_maxrss
}

// result is one finished runtime command.
type result struct {
	wall       time.Duration
	start, end time.Time     // wall-clock ends of the timed span
	cpu        time.Duration // user+system time of the command and the children it reaped
	maxRSS     int64         // KiB, peak of the runtime process itself
	rssErr     error         // maxRSS could not be measured
	stdout     string
	err        error // with the command's stderr in it
}

// exec runs the runtime with its private --root before args.
func (rt *runtime) exec(args ...string) result {
	return rt.run(rt.bin, append([]string{"--root", rt.root}, args...)...)
}

// runOpts are the less common ways to run a command.
type runOpts struct {
	env   []string // added to this program's environment
	noRSS bool     // concurrent commands: the taskstats records would mix
}

// run runs one command and measures it, peak RSS included.
func (r *runner) run(bin string, args ...string) result {
	return r.runWith(runOpts{}, bin, args...)
}

// runWith runs one command and measures it. The timed span is from fork
// to reap, the wall time of the whole command. stdout and stderr go to
// files, not pipes: a container started by create or run inherits them,
// and with a pipe Wait would last as long as the container does.
func (r *runner) runWith(o runOpts, bin string, args ...string) result {
	stdout, err := os.CreateTemp(r.work, "out-")
	if err != nil {
		return result{err: err}
	}
	defer closeRemove(stdout)
	stderr, err := os.CreateTemp(r.work, "err-")
	if err != nil {
		return result{err: err}
	}
	defer closeRemove(stderr)

	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if len(o.env) > 0 {
		cmd.Env = append(os.Environ(), o.env...)
	}

	measureRSS := r.rss != nil && !o.noRSS
	if measureRSS {
		r.rss.drain() // earlier exits are none of this command's
	}
	start := time.Now()
	err = cmd.Run()
	end := time.Now()
	res := result{wall: end.Sub(start), start: start, end: end}
	if cmd.ProcessState != nil {
		res.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if !o.noRSS {
		res.maxRSS, res.rssErr = r.peakRSS(cmd)
	}
	out, _ := os.ReadFile(stdout.Name())
	res.stdout = string(out)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("timed out after %v", cmdTimeout)
		}
		res.err = fmt.Errorf("%s %s: %v", filepath.Base(bin), strings.Join(args, " "), err)
		if msg, _ := os.ReadFile(stderr.Name()); len(msg) > 0 {
			res.err = fmt.Errorf("%w: %s", res.err, oneLine(string(msg)))
		}
	}
	return res
}

// peakRSS is the finished command's peak RSS in KiB: from its taskstats
// exit records if there are any (see rss.go), else from ru_maxrss.
func (r *runner) peakRSS(cmd *exec.Cmd) (int64, error) {
	if cmd.ProcessState == nil {
		return 0, errors.New("the command did not run")
	}
	if r.rss == nil {
		ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		if !ok {
			return 0, errors.New("no rusage")
		}
		return ru.Maxrss, nil // Linux reports KiB
	}
	kib, found, err := r.rss.drain()
	if err == nil && !found {
		err = fmt.Errorf("no taskstats exit record for pid %d", cmd.Process.Pid)
	}
	return kib, err
}

func closeRemove(f *os.File) {
	f.Close()
	os.Remove(f.Name())
}

// oneLine squeezes a command's stderr into one line of the report.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 400 {
		s = s[:400] + "..."
	}
	return s
}

// status is the container's status from `state`.
func (rt *runtime) status(id string) (res result, status string) {
	res, st := rt.state(id)
	return res, st.Status
}

type stateJSON struct {
	Status string `json:"status"`
	Pid    int    `json:"pid"`
}

// state is the container's `state`, decoded.
func (rt *runtime) state(id string) (res result, st stateJSON) {
	res = rt.exec("state", id)
	if res.err != nil {
		return res, st
	}
	if err := json.Unmarshal([]byte(res.stdout), &st); err != nil {
		res.err = fmt.Errorf("%s state %s: bad JSON: %v", rt.name, id, err)
	}
	return res, st
}

// waitStopped polls `state` until the container has stopped.
func (rt *runtime) waitStopped(id string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, status := rt.status(id)
		if res.err != nil {
			return res.err
		}
		if status == "stopped" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s %s: still %q 10s after kill", rt.name, id, status)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// forceDelete is the cleanup after a failure; it may well find nothing.
func (rt *runtime) forceDelete(id string) {
	// noRSS: it may run beside others (throughput), and its RSS is no
	// measurement.
	rt.runWith(runOpts{noRSS: true}, rt.bin, "--root", rt.root, "delete", "--force", id)
}

// sweep deletes whatever containers are left under the runtime's root,
// before the root itself is removed with the temp dir.
func (rt *runtime) sweep() {
	res := rt.exec("list", "-q")
	for _, id := range strings.Fields(res.stdout) {
		rt.forceDelete(id)
	}
}
