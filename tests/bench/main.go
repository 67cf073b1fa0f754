// Command bench measures rung against runc and crun on one busybox bundle:
// the wall time of `run` and of each step of a create/start/state/kill/
// delete cycle, and the peak RSS of `create` and `state`. It prints
// medians and rung's ratios to the others. It is a measurement, never a
// test gate: it exits 0 whenever it got as far as printing a report.
//
//	go run ./tests/bench -rung ./rung [-n 30] [-runc /usr/sbin/runc] [-crun /usr/bin/crun]
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
	"syscall"
)

func main() {
	rungBin := flag.String("rung", "", "rung binary to measure (required)")
	runcBin := flag.String("runc", "/usr/sbin/runc", "runc binary")
	crunBin := flag.String("crun", "/usr/bin/crun", "crun binary")
	n := flag.Int("n", 30, "measured iterations per runtime")
	warmup := flag.Int("warmup", 3, "untimed iterations per runtime before measuring")
	flag.Parse()
	if *rungBin == "" || *n < 1 || *warmup < 0 || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if os.Geteuid() != 0 {
		fatalf("bench: run as root: the runtimes create namespaces, mounts and cgroups")
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
	code := benchmark(ctx, &report, work, *rungBin, *runcBin, *crunBin, *n, *warmup)
	if err := os.RemoveAll(work); err != nil {
		fmt.Fprintf(os.Stderr, "bench: remove %s: %v\n", work, err)
	}
	os.Stdout.Write(report.Bytes())
	os.Exit(code)
}

// benchmark does everything that needs the work dir, so that main can
// remove it on every path. It returns the exit code.
func benchmark(ctx context.Context, out io.Writer, work, rungBin, runcBin, crunBin string, n, warmup int) int {
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
	if hugetlbNote != "" {
		b.notes = append(b.notes, hugetlbNote)
	}

	b.loop(ctx, warmup, n)
	for _, rt := range b.runtimes {
		rt.sweep()
	}
	b.report(out, n, warmup)
	return 0
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}
