// Command bench measures rung against runc and crun on one busybox bundle
// (issue 14): the wall time of `run`, of `run` after 100 ms idle, and of
// each step of a create/start/state/exec/kill/delete cycle; containers per
// second of create/start/delete streams at 1 and 8 in flight; the peak RSS
// of create, run, exec and state, and the RSS of the init parked between
// create and start. The runtimes take turns within each iteration, warm-up
// is discarded, and it prints medians, rung's ratios to the others, and
// p90/min/max with the spread of a plain fork+exec as the machine's noise.
// Last comes the anatomy of one `rung run` from RUNG_PROFILE phase marks.
// It is a measurement, never a test gate: it exits 0 whenever it got as
// far as printing a report.
//
//	go run ./tests/bench -rung ./rung [-n 30] [-warmup 3] [-tput-rounds 5]
//	    [-tput-per-stream 6] [-profile 20] [-runc /usr/sbin/runc] [-crun /usr/bin/crun]
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	rungBin := flag.String("rung", "", "rung binary to measure (required)")
	runcBin := flag.String("runc", "/usr/sbin/runc", "runc binary")
	crunBin := flag.String("crun", "/usr/bin/crun", "crun binary")
	oldBin := flag.String("rung-old", "", "a second rung binary (an older build) measured beside -rung as rung-old")
	n := flag.Int("n", 30, "measured iterations per runtime")
	warmup := flag.Int("warmup", 3, "untimed iterations per runtime before measuring")
	tputRounds := flag.Int("tput-rounds", 5, "measured throughput rounds (after one warm-up round); 0: none")
	tputPerStream := flag.Int("tput-per-stream", 6, "containers per stream in one throughput batch")
	profileN := flag.Int("profile", 20, "profiled `rung run`s for the anatomy table (RUNG_PROFILE); 0: none")
	nice := flag.Int("nice", -20, "nice value for this program and every runtime it starts; 0: leave it")
	flag.Parse()
	if *rungBin == "" || *n < 1 || *warmup < 0 || *tputRounds < 0 || *tputPerStream < 1 || *profileN < 0 || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if os.Geteuid() != 0 {
		fatalf("bench: run as root: the runtimes create namespaces, mounts and cgroups")
	}

	niceNote := ""
	if *nice != 0 {
		niceNote = setNice(*nice)
	}

	// Ctrl-C stops at the next iteration boundary so that every container
	// is still deleted and the temp dir removed.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	work, err := os.MkdirTemp("", "rung-bench-")
	if err != nil {
		fatalf("bench: %v", err)
	}
	// The report is printed only after the cleanup, so that a reader that
	// goes away early (| head) cannot kill this program with SIGPIPE
	// before the temp dir is gone.
	var report bytes.Buffer
	cfg := config{rung: *rungBin, rungOld: *oldBin, runc: *runcBin, crun: *crunBin, n: *n, warmup: *warmup,
		tputRounds: *tputRounds, tputPerStream: *tputPerStream, profile: *profileN, niceNote: niceNote}
	code := benchmark(ctx, &report, work, cfg)
	if err := os.RemoveAll(work); err != nil {
		fmt.Fprintf(os.Stderr, "bench: remove %s: %v\n", work, err)
	}
	os.Stdout.Write(report.Bytes())
	os.Exit(code)
}

// config is what the flags ask for.
type config struct {
	rung, rungOld, runc, crun string
	n, warmup                 int
	tputRounds, tputPerStream int
	profile                   int
	niceNote                  string
}

// benchmark does everything that needs the work dir, so that main can
// remove it on every path. It returns the exit code.
func benchmark(ctx context.Context, out io.Writer, work string, cfg config) int {
	rungBin, runcBin, crunBin, n, warmup := cfg.rung, cfg.runc, cfg.crun, cfg.n, cfg.warmup
	if err := os.Chmod(work, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	rungAbs, err := filepath.Abs(rungBin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	bundles, err := makeBundles(work, rungAbs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: bundle:", err)
		return 1
	}

	// Change the cgroup layout before anything is measured, so that all
	// three runtimes see the same hierarchies in every iteration.
	hugetlbNote := fixHybridHugetlb()

	b := &bench{bundles: bundles, samples: map[string]map[string][]float64{}}
	r := &runner{work: work}
	if r.rss, err = openExitRSS(); err != nil {
		b.notes = append(b.notes, fmt.Sprintf("taskstats unavailable (%v): peak RSS is ru_maxrss, "+
			"which never reads below this program's own %s KiB (see rss.go)", err, selfRSS()))
	} else {
		defer r.rss.close()
	}
	for _, rt := range []*runtime{
		newRuntime(r, "rung", rungAbs),
		newRuntime(r, "runc", runcBin),
		newRuntime(r, "crun", crunBin),
	} {
		b.preflight(rt)
		b.runtimes = append(b.runtimes, rt)
	}
	if cfg.rungOld != "" {
		rt := newRuntime(r, "rung-old", cfg.rungOld)
		b.preflight(rt)
		b.runtimes = append(b.runtimes, rt)
	}
	if cfg.niceNote != "" {
		b.notes = append(b.notes, cfg.niceNote)
	}
	if hugetlbNote != "" {
		b.notes = append(b.notes, hugetlbNote)
	}

	b.load = append(b.load, "at start: "+loadavg())
	b.loop(ctx, warmup, n)
	b.tputRounds = cfg.tputRounds
	if cfg.tputRounds > 0 {
		b.throughput(ctx, cfg.tputRounds, cfg.tputPerStream)
	}
	if bundles.seccompErr != nil {
		b.notes = append(b.notes, fmt.Sprintf("no run-seccomp row: %v (make deps installs podman, whose containers-common has it)", bundles.seccompErr))
	}
	var anat, anatOld, anatSecc, anatSeccOld *anatomy
	crunNote := ""
	if cfg.profile > 0 && ctx.Err() == nil {
		if rt := b.runtimes[0]; rt.broken == "" {
			anat = b.profile(rt, b.bundles.run, cfg.profile, 2)
			// rung-old's anatomy beside it: the before and after of a change.
			if len(b.runtimes) > 3 && b.runtimes[3].broken == "" {
				anatOld = b.profile(b.runtimes[3], b.bundles.run, cfg.profile, 2)
			}
			if b.bundles.seccomp != "" {
				anatSecc = b.profile(rt, b.bundles.seccomp, cfg.profile, 2)
				if len(b.runtimes) > 3 && b.runtimes[3].broken == "" {
					anatSeccOld = b.profile(b.runtimes[3], b.bundles.seccomp, cfg.profile, 2)
				}
			}
		}
		crunNote = b.crunBreakdown(b.runtimes[2])
	}
	b.load = append(b.load, "at end:   "+loadavg())
	for _, rt := range b.runtimes {
		rt.sweep()
	}
	b.report(out, n, warmup)
	if anat != nil {
		anat.report(out, "`rung run` (/bin/true)", false, crunNote)
	}
	if anatOld != nil {
		anatOld.report(out, "`rung-old run` (/bin/true)", true, "")
	}
	if anatSecc != nil {
		anatSecc.report(out, "`rung run` (/bin/true) with podman's default seccomp profile", true, "")
	}
	if anatSeccOld != nil {
		anatSeccOld.report(out, "`rung-old run` (/bin/true) with podman's default seccomp profile", true, "")
	}
	return 0
}

// setNice gives every thread of this program the nice value n; the
// runtimes it starts inherit it from whichever thread forks them. On a
// shared machine this keeps other jobs from landing in the middle of one
// runtime's command more than another's; all three get the same. Kernel
// threads (RCU, kworkers) keep their own priority.
func setNice(n int) string {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return fmt.Sprintf("nice %d not set: %v", n, err)
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, n); err != nil {
			return fmt.Sprintf("nice %d not set: %v", n, err)
		}
	}
	return fmt.Sprintf("ran at nice %d (-nice), the runtimes too: the machine's other jobs interfere less", n)
}

func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return err.Error()
	}
	return strings.TrimSpace(string(data))
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}
