package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// The operations in report order. Units: see unit().
const (
	opRun        = "run"
	opRunIdle    = "run-after-idle"
	opRunSecc    = "run-seccomp"
	opCreate     = "create"
	opStart      = "start"
	opState      = "state"
	opExec       = "exec"
	opKill       = "kill"
	opDelete     = "delete"
	opRunCPU     = "run-CPU"
	opSeccCPU    = "run-seccomp-CPU"
	opCreateCPU  = "create-CPU"
	opExecCPU    = "exec-CPU"
	opTput1      = "throughput-1"
	opTput8      = "throughput-8"
	opCreateRSS  = "create-peak-RSS"
	opRunRSS     = "run-peak-RSS"
	opExecRSS    = "exec-peak-RSS"
	opStateRSS   = "state-peak-RSS"
	opParkedRSS  = "parked-init-RSS"
	opParkedAnon = "parked-init-anon"
)

var ops = []string{
	opRun, opRunIdle, opRunSecc, opCreate, opStart, opState, opExec, opKill, opDelete,
	opRunCPU, opSeccCPU, opCreateCPU, opExecCPU,
	opTput1, opTput8,
	opCreateRSS, opRunRSS, opExecRSS, opStateRSS, opParkedRSS, opParkedAnon,
}

// idleGap is how long the machine's runtimes rest before the
// run-after-idle sample. The cgroup core's rcu_sync lets a writer of
// cgroup_threadgroup_rwsem skip the RCU grace period only while the last
// writer was recent; after ~100 ms idle a v1 attach waits for a full
// grace period again, which back-to-back runs never show.
const idleGap = 100 * time.Millisecond

func unit(op string) string {
	switch op {
	case opCreateRSS, opRunRSS, opExecRSS, opStateRSS, opParkedRSS, opParkedAnon:
		return "KiB"
	case opTput1, opTput8:
		return "ctr/s"
	case opRunCPU, opSeccCPU, opCreateCPU, opExecCPU:
		// CPU time: less at the mercy of a busy machine than wall time.
		return "ms CPU"
	}
	return "ms"
}

func isRSS(op string) bool { return unit(op) == "KiB" }

type bench struct {
	bundles    bundles
	runtimes   []*runtime
	samples    map[string]map[string][]float64 // runtime -> op -> values
	failures   []string
	notes      []string
	baseline   []float64 // ms of fork+exec+reap of /bin/true: the machine's noise
	load       []string  // /proc/loadavg when the bench started and ended
	tputRounds int       // measured throughput rounds
}

// loop runs the warm-up and measured iterations. Within an iteration the
// runtimes take turns, so that a noisy moment on the machine lands on all
// of them alike instead of on one runtime's whole series.
func (b *bench) loop(ctx context.Context, warmup, n int) {
	for i := 0; i < warmup+n; i++ {
		measured := i >= warmup
		tag := fmt.Sprintf("w%d", i+1) // warm-up IDs never clash with measured ones
		if measured {
			tag = fmt.Sprint(i - warmup + 1)
		}
		for _, rt := range b.runtimes {
			if ctx.Err() != nil {
				b.notes = append(b.notes, fmt.Sprintf("interrupted before iteration %s", tag))
				return
			}
			if rt.broken == "" {
				b.iteration(rt, tag, measured)
			}
		}
	}
}

// preflight reads the version and does one `run`, and marks the runtime
// broken if either fails, so that one runtime that cannot work here
// (crun on a hybrid cgroup layout, say) does not stop the others.
func (b *bench) preflight(rt *runtime) {
	res := rt.run(rt.bin, "--version")
	if res.err != nil {
		rt.broken = res.err.Error()
		return
	}
	rt.version, _, _ = strings.Cut(strings.TrimSpace(res.stdout), "\n")
	if res := rt.exec("run", "--bundle", b.bundles.run, "preflight"); res.err != nil {
		rt.broken = res.err.Error()
		rt.forceDelete("preflight")
	}
}

// iteration is one `run` and one lifecycle cycle. Failures are recorded
// and the iteration goes on where it can.
func (b *bench) iteration(rt *runtime, tag string, measured bool) {
	rec := func(op string, v float64) {
		if measured {
			b.record(rt.name, op, v)
		}
	}
	fail := func(err error) {
		b.failures = append(b.failures, fmt.Sprintf("%s iteration %s: %v", rt.name, tag, err))
	}

	runID := "run-" + tag
	if res := rt.exec("run", "--bundle", b.bundles.run, runID); res.err != nil {
		fail(res.err)
		rt.forceDelete(runID)
	} else {
		rec(opRun, ms(res.wall))
		rec(opRunCPU, ms(res.cpu))
		b.recordRSS(rt, opRunRSS, res, rec)
	}

	if b.bundles.seccomp != "" {
		id := "seccomp-" + tag
		if res := rt.exec("run", "--bundle", b.bundles.seccomp, id); res.err != nil {
			fail(res.err)
			rt.forceDelete(id)
		} else {
			rec(opRunSecc, ms(res.wall))
			rec(opSeccCPU, ms(res.cpu))
		}
	}

	cycleID := "cycle-" + tag
	if err := b.cycle(rt, cycleID, rec); err != nil {
		fail(err)
		rt.forceDelete(cycleID)
	}

	time.Sleep(idleGap)
	idleID := "idle-" + tag
	if res := rt.exec("run", "--bundle", b.bundles.run, idleID); res.err != nil {
		fail(res.err)
		rt.forceDelete(idleID)
	} else {
		rec(opRunIdle, ms(res.wall))
	}

	// The same fork, exec and reap with no runtime in it: its spread is
	// the machine's, and it lands among the runtimes' samples.
	if measured {
		if res := b.runtimes[0].run("/bin/true"); res.err == nil {
			b.baseline = append(b.baseline, ms(res.wall))
		}
	}
}

// cycle takes one container through create, start, state, kill and
// delete, timing each command on its own. The wait for the container to
// stop after the kill is not timed: it measures the kernel, not the
// runtime.
func (b *bench) cycle(rt *runtime, id string, rec func(string, float64)) error {
	res := rt.exec("create", "--bundle", b.bundles.cycle, id)
	if res.err != nil {
		return res.err
	}
	rec(opCreate, ms(res.wall))
	rec(opCreateCPU, ms(res.cpu))
	b.recordRSS(rt, opCreateRSS, res, rec)

	// The parked init: runc's is `runc init`, crun's is crun's own
	// process, rung's is `rung init`; state names it for each.
	res, st := rt.state(id)
	if res.err != nil {
		return res.err
	}
	if rss, anon, err := parkedRSS(st.Pid); err != nil {
		b.failures = append(b.failures, fmt.Sprintf("%s parked init: %v", rt.name, err))
	} else {
		rec(opParkedRSS, float64(rss))
		rec(opParkedAnon, float64(anon))
	}

	if res = rt.exec("start", id); res.err != nil {
		return res.err
	}
	rec(opStart, ms(res.wall))

	res, status := rt.status(id)
	if res.err != nil {
		return res.err
	}
	rec(opState, ms(res.wall))
	b.recordRSS(rt, opStateRSS, res, rec)
	if status != "running" {
		return fmt.Errorf("%s state %s after start: status %q, want running", rt.name, id, status)
	}

	if res = rt.exec("exec", id, "/bin/true"); res.err != nil {
		return res.err
	}
	rec(opExec, ms(res.wall))
	rec(opExecCPU, ms(res.cpu))
	b.recordRSS(rt, opExecRSS, res, rec)

	if res = rt.exec("kill", id, "KILL"); res.err != nil {
		return res.err
	}
	rec(opKill, ms(res.wall))

	if err := rt.waitStopped(id); err != nil {
		return err
	}

	if res = rt.exec("delete", id); res.err != nil {
		return res.err
	}
	rec(opDelete, ms(res.wall))
	return nil
}

// recordRSS records a peak RSS, or as a failure why there is none; the
// command itself succeeded, so the cycle goes on either way.
func (b *bench) recordRSS(rt *runtime, op string, res result, rec func(string, float64)) {
	if res.rssErr != nil {
		b.failures = append(b.failures, fmt.Sprintf("%s %s: %v", rt.name, op, res.rssErr))
		return
	}
	rec(op, float64(res.maxRSS))
}

func (b *bench) record(runtime, op string, v float64) {
	if b.samples[runtime] == nil {
		b.samples[runtime] = map[string][]float64{}
	}
	b.samples[runtime][op] = append(b.samples[runtime][op], v)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
