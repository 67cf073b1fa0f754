package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// The anatomy of one `rung run`: rung writes timestamped phase marks to
// the file RUNG_PROFILE names (package internal/phase), its init too, and
// this program adds "bench fork" and "bench reaped" around the command.
// Each span is the time from the previous mark, in any process, to the
// one that names it, so the spans of one run add up to its wall time.

// markWhat says what the span that ends at a mark holds.
var markWhat = map[string]string{
	"rung go-init":               "rung: fork+exec, Go runtime start (static: no ld.so)",
	"rung main":                  "rung: package init of every package",
	"rung config-loaded":         "cli parse + config.json read and decoded",
	"rung config-validated":      "config validated, namespace plan, ladder",
	"rung cgroup-prepared":       "state dir + lock, cgroup config, open, precreate",
	"rung init-spawn":            "exec.fifo, sync socket, sealed exe (open_tree)",
	"rung init-execd":            "clone(new namespaces) + execve of init",
	"init go-init":               "init: Go runtime start",
	"init main":                  "init: package init",
	"rung cgroup-applied":        "cgroup attach (v1: may wait an RCU grace period)",
	"rung config-sent":           "config JSON encoded to init (before the v1 attach)",
	"init config-received":       "init: config JSON decoded (round trip 1)",
	"init cgroup-joined":         "init: told it is in its cgroup (v1 attach done)",
	"init parked":                "init: read-only file mappings dropped (create only)",
	"init procfs-caps":           "init: cgroupns, private procfs, capabilities",
	"init seccomp-compiled":      "init: seccomp filter compiled (libseccomp), or checked as sent",
	"rung seccomp-prepared":      "seccomp filter compiled, or taken from the cache (rung's root)",
	"init rootfs-bound":          "init: / rslave, rootfs bind",
	"init mounts":                "init: config mounts (proc, dev, sys, ...)",
	"init devices":               "init: /dev nodes and links",
	"init createContainer-hooks": "init: runtime hook round trip, createContainer hooks",
	"init pivot_root":            "init: pivot_root + detach old root",
	"init masked-paths":          "init: propagation, masked + readonly paths",
	"init process-attrs":         "init: sysctl, hostname, lo, keyring, rlimits, cwd",
	"init ready":                 "init: user, capabilities, no_new_privs",
	"rung init-ready":            "ready reply to rung (round trip 2)",
	"rung namespaces-verified":   "namespace inodes verified",
	"rung state-written":         "state.json written",
	"rung init-released":         "commit to init",
	"init released":              "init: commit received (round trip 3)",
	"rung start-fifo":            "start: pidfd, exec.fifo open + poll",
	"init started":               "init: exec.fifo handshake",
	"init seccomp-loaded":        "init: seccomp filter loaded",
	"init exec":                  "init: fds sealed, rlimits",
	"rung user-execd":            "execve of the user process (fifo EOF)",
	"rung exited":                "user process runs and exits, init reaped",
	"rung deleted":               "delete: cgroup, mounts, state dir",
	"bench reaped":               "rung exits and is reaped",
	"nsexec go-init":             "exec helper: Go runtime start",
}

// markGroup puts each span in one of the parts issue 14 names, so that
// the anatomy also reads as a handful of totals. A span is attributed to
// the mark it ends at: while init starts, the runtime attaches the cgroup,
// and the timeline gives each moment to whichever finished next.
var markGroup = map[string]string{
	"rung go-init": "rung start: exec, Go runtime, package init", "rung main": "rung start: exec, Go runtime, package init",
	"rung config-loaded": "config load + validate (cli included)", "rung config-validated": "config load + validate (cli included)",
	"rung cgroup-prepared": "state dir, cgroup prepare + attach", "rung cgroup-applied": "state dir, cgroup prepare + attach",
	"rung init-spawn": "clone(namespaces) + exec of init, fifo, sealed exe", "rung init-execd": "clone(namespaces) + exec of init, fifo, sealed exe",
	"init go-init": "init start: Go runtime, package init", "init main": "init start: Go runtime, package init",
	"init cgroup-joined": "state dir, cgroup prepare + attach",
	"rung config-sent":   "parent<->init round trips, JSON", "init config-received": "parent<->init round trips, JSON",
	"rung init-ready": "parent<->init round trips, JSON", "rung init-released": "parent<->init round trips, JSON",
	"init released": "parent<->init round trips, JSON", "rung start-fifo": "parent<->init round trips, JSON", "init started": "parent<->init round trips, JSON",
	"init rootfs-bound": "rootfs + mounts + masked paths", "init mounts": "rootfs + mounts + masked paths",
	"init devices": "rootfs + mounts + masked paths", "init createContainer-hooks": "rootfs + mounts + masked paths",
	"init masked-paths":     "rootfs + mounts + masked paths",
	"init pivot_root":       "pivot_root",
	"init seccomp-compiled": "seccomp compile + load", "init seccomp-loaded": "seccomp compile + load",
	"rung seccomp-prepared": "seccomp compile + load",
	"init procfs-caps":      "process attributes, credentials", "init process-attrs": "process attributes, credentials",
	"init ready": "process attributes, credentials", "init exec": "process attributes, credentials",
	"rung namespaces-verified": "verify namespaces, write state", "rung state-written": "verify namespaces, write state",
	"rung user-execd": "execve of the user process",
	"rung exited":     "user process runs + exits, reap",
	"rung deleted":    "delete + rung exit", "bench reaped": "delete + rung exit",
}

// intervals are durations between two marks, whatever ran meanwhile:
// where the timeline overlaps (init starts while rung attaches the
// cgroup), they show what a cut would expose behind it.
var intervals = []struct{ label, from, to string }{
	{"rung: fork to main (exec, Go runtime, package init)", "bench fork", "rung main"},
	{"rung: config sent, cgroup attach (applyCgroup)", "rung init-execd", "rung cgroup-applied"},
	{"init: clone+exec to main (overlaps the attach)", "rung init-spawn", "init main"},
	{"config to init: sent, decoded", "rung config-sent", "init config-received"},
	{"init: seccomp compile alone", "init procfs-caps", "init seccomp-compiled"},
	{"rung: seccomp compile or cache alone", "rung init-execd", "rung seccomp-prepared"},
	{"init: config received to ready (all of setup)", "init config-received", "init ready"},
	{"user process: init's exec to rung seeing it", "init exec", "rung user-execd"},
	{"create part of run: fork to init released", "bench fork", "rung init-released"},
}

type mark struct {
	t    int64 // unix ns
	name string
}

// readMarks reads one run's profile, sorted by time.
func readMarks(path string) ([]mark, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ms []mark
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			return nil, fmt.Errorf("%s: bad line %q", path, sc.Text())
		}
		t, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: bad line %q", path, sc.Text())
		}
		ms = append(ms, mark{t: t, name: fields[1] + " " + fields[2]})
	}
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].t < ms[j].t })
	return ms, sc.Err()
}

type anatomy struct {
	runs     int
	spans    map[string][]float64 // mark -> ms since the previous mark
	offsets  map[string][]float64 // mark -> ms since bench fork
	prev     map[string]map[string]int
	groups   map[string][]float64 // group -> ms per run
	between  map[string][]float64 // interval label -> ms per run
	totals   []float64            // profiled runs' wall time
	plain    []float64            // unprofiled runs interleaved with them
	failures []string
}

// profile runs `rung run` n times with RUNG_PROFILE set, after warm-up,
// each followed by one run without it (the profile's own cost shows as
// the difference of the two totals).
func (b *bench) profile(rt *runtime, bundle string, n, warmup int) *anatomy {
	a := &anatomy{between: map[string][]float64{}, groups: map[string][]float64{}, spans: map[string][]float64{}, offsets: map[string][]float64{}, prev: map[string]map[string]int{}}
	for i := 0; i < warmup+n; i++ {
		measured := i >= warmup
		path := filepath.Join(rt.work, fmt.Sprintf("profile-%s-%s-%d", rt.name, filepath.Base(bundle), i))
		id := fmt.Sprintf("prof-%d", i)
		res := rt.runWith(runOpts{env: []string{"RUNG_PROFILE=" + path}, noRSS: true},
			rt.bin, "--root", rt.root, "run", "--bundle", bundle, id)
		if res.err != nil {
			a.failures = append(a.failures, res.err.Error())
			rt.forceDelete(id)
			continue
		}
		plain := rt.runWith(runOpts{noRSS: true}, rt.bin, "--root", rt.root, "run", "--bundle", bundle, id+"-plain")
		if plain.err != nil {
			a.failures = append(a.failures, plain.err.Error())
			rt.forceDelete(id + "-plain")
		}
		if !measured {
			continue
		}
		marks, err := readMarks(path)
		if err != nil {
			a.failures = append(a.failures, err.Error())
			continue
		}
		marks = append([]mark{{t: res.start.UnixNano(), name: "bench fork"}}, marks...)
		marks = append(marks, mark{t: res.end.UnixNano(), name: "bench reaped"})
		a.add(marks)
		a.totals = append(a.totals, ms(res.wall))
		if plain.err == nil {
			a.plain = append(a.plain, ms(plain.wall))
		}
	}
	return a
}

func (a *anatomy) add(marks []mark) {
	a.runs++
	t0 := marks[0].t
	at := map[string]int64{}
	for _, m := range marks {
		at[m.name] = m.t
	}
	for _, iv := range intervals {
		from, ok1 := at[iv.from]
		to, ok2 := at[iv.to]
		if ok1 && ok2 {
			a.between[iv.label] = append(a.between[iv.label], float64(to-from)/1e6)
		}
	}
	group := map[string]float64{}
	defer func() {
		for g, v := range group {
			a.groups[g] = append(a.groups[g], v)
		}
	}()
	for i := 1; i < len(marks); i++ {
		m := marks[i]
		g := markGroup[m.name]
		if g == "" {
			g = "other"
		}
		group[g] += float64(m.t-marks[i-1].t) / 1e6
		a.spans[m.name] = append(a.spans[m.name], float64(m.t-marks[i-1].t)/1e6)
		a.offsets[m.name] = append(a.offsets[m.name], float64(m.t-t0)/1e6)
		if a.prev[m.name] == nil {
			a.prev[m.name] = map[string]int{}
		}
		a.prev[m.name][marks[i-1].name]++
	}
}

// report prints one row per mark in the order of their median offsets.
// With brief, only the totals by part.
func (a *anatomy) report(w io.Writer, what string, brief bool, crunNote string) {
	fmt.Fprintf(w, "\nanatomy of %s: N=%d profiled runs, median ms of each span\n", what, a.runs)
	if a.runs == 0 {
		fmt.Fprintln(w, "  no profiled run succeeded")
	} else {
		names := make([]string, 0, len(a.spans))
		for name := range a.spans {
			names = append(names, name)
		}
		sort.Slice(names, func(i, j int) bool { return median(a.offsets[names[i]]) < median(a.offsets[names[j]]) })
		tw := tabwriter.NewWriter(io.Discard, 0, 0, 2, ' ', 0)
		if !brief {
			tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		}
		fmt.Fprintln(tw, "at ms\tspan ms\tmin\tp90\tmax\tmark (after the usual previous one)\twhat the span holds\t")
		var sum float64
		for _, name := range names {
			s := a.spans[name]
			sum += median(s)
			label := name
			if p := usualPrev(a.prev[name]); p != "" {
				label = fmt.Sprintf("%s (after %s)", name, p)
			}
			if len(s) < a.runs {
				label += fmt.Sprintf(" (n=%d)", len(s))
			}
			fmt.Fprintf(tw, "%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%s\t%s\t\n",
				median(a.offsets[name]), median(s), minOf(s), percentile(s, 0.9), maxOf(s), label, markWhat[name])
		}
		tw.Flush()
		fmt.Fprintf(w, "sum of span medians %.2f ms; profiled run median %.2f ms, unprofiled run (interleaved) median %.2f ms\n",
			sum, medianOr(a.totals), medianOr(a.plain))

		// The same spans summed per run by part, then the median over runs.
		groups := make([]string, 0, len(a.groups))
		for g := range a.groups {
			groups = append(groups, g)
		}
		sort.Slice(groups, func(i, j int) bool { return median(a.groups[groups[i]]) > median(a.groups[groups[j]]) })
		var parts float64
		for _, g := range groups {
			parts += median(a.groups[g])
		}
		fmt.Fprintf(w, "\nby part (per-run sums of the spans; median, min, p90 ms; share of the %.2f ms the part medians add up to)\n", parts)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, g := range groups {
			v := a.groups[g]
			fmt.Fprintf(tw, "%.2f\t%.2f\t%.2f\t%.0f%%\t%s\t\n", median(v), minOf(v), percentile(v, 0.9), 100*median(v)/parts, g)
		}
		tw.Flush()

		fmt.Fprintln(w, "\nintervals between two marks, whatever else ran meanwhile (median, min, p90 ms)")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, iv := range intervals {
			if v := a.between[iv.label]; len(v) > 0 {
				fmt.Fprintf(tw, "%.2f\t%.2f\t%.2f\t%s\t\n", median(v), minOf(v), percentile(v, 0.9), iv.label)
			}
		}
		tw.Flush()
	}
	if crunNote != "" {
		fmt.Fprintf(w, "crun: %s\n", crunNote)
	}
	for _, f := range a.failures {
		fmt.Fprintf(w, "  profile failure: %s\n", f)
	}
}

func usualPrev(m map[string]int) string {
	best, n := "", 0
	for k, v := range m {
		if v > n || (v == n && k < best) {
			best, n = k, v
		}
	}
	return best
}

func medianOr(s []float64) float64 {
	if len(s) == 0 {
		return 0
	}
	return median(s)
}

// crunBreakdown says whether crun's debug log can break a run down: it
// runs crun once with --debug and a JSON log and counts the timestamped
// messages.
func (b *bench) crunBreakdown(rt *runtime) string {
	if rt.broken != "" {
		return "unavailable"
	}
	log := filepath.Join(rt.work, "crun-debug.log")
	id := "crun-debug"
	res := rt.runWith(runOpts{noRSS: true}, rt.bin, "--debug", "--log=file:"+log, "--log-format=json",
		"--root", rt.root, "run", "--bundle", b.bundles.run, id)
	if res.err != nil {
		rt.forceDelete(id)
		return fmt.Sprintf("debug run failed: %v", res.err)
	}
	data, _ := os.ReadFile(log)
	n := strings.Count(string(data), `"time"`)
	if n < 2 {
		return fmt.Sprintf("cannot be broken down: `crun --debug --log=file:... --log-format=json run` "+
			"logs %d timestamped messages for a run (%s), not one per phase", n, rt.version)
	}
	return fmt.Sprintf("its debug log has %d timestamped messages per run; not parsed into phases here", n)
}
