package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
)

// report prints the header, the table of medians and ratios, the notes and
// failures, and then one BENCH line per operation for scripts.
func (b *bench) report(w io.Writer, n, warmup int) {
	header := []string{fmt.Sprintf("bench: N=%d (after %d warm-up), throughput %d rounds (after 1 warm-up), medians", n, warmup, b.tputRounds)}
	for _, rt := range b.runtimes {
		v := rt.version
		if v == "" {
			v = "version unknown"
		}
		header = append(header, fmt.Sprintf("%s: %s (%s)", rt.name, v, rt.bin))
	}
	fmt.Fprintln(w, strings.Join(header, " | "))
	fmt.Fprintln(w)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tunit\trung\trunc\tcrun\trung/runc\trung/crun\t")
	for _, op := range ops {
		m := b.medians(op)
		cells := []string{op, unit(op)}
		for _, rt := range b.runtimes {
			cells = append(cells, b.cell(rt, op, m[rt.name], n))
		}
		cells = append(cells, ratio(m["rung"], m["runc"]), ratio(m["rung"], m["crun"]))
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	tw.Flush()
	fmt.Fprintln(w, "(ratio < 1: rung is faster / lighter, except throughput (containers per second, create+start+delete -f"+
		" streams, 1 or 8 in flight): there > 1 is better;"+
		" ms CPU: user+system time of the command and the children it reaped (a run's init and container process; not a created container's init);"+
		" (n=K): only K of the N samples succeeded)")

	// The spread of every series: the machine's noise, shown rather than
	// averaged away.
	fmt.Fprintln(w, "\nspread: p90 / min / max of the same samples")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{"operation", "unit"}
	for _, rt := range b.runtimes {
		head = append(head, rt.name)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, op := range ops {
		cells := []string{op, unit(op)}
		for _, rt := range b.runtimes {
			cells = append(cells, spread(op, b.samples[rt.name][op]))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	if len(b.baseline) > 0 {
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", "host /bin/true", "ms",
			fmt.Sprintf("median %.2f, p90/min/max %s", median(b.baseline), spread("", b.baseline)))
	}
	tw.Flush()
	fmt.Fprintln(w, "(host /bin/true: fork, exec and reap of /bin/true by this program, once per iteration: no runtime in it)")
	for _, l := range b.load {
		fmt.Fprintf(w, "loadavg %s\n", l)
	}

	for _, rt := range b.runtimes {
		if rt.broken != "" {
			fmt.Fprintf(w, "\n%s unavailable: %s\n", rt.name, rt.broken)
		}
	}
	for _, note := range b.notes {
		fmt.Fprintf(w, "\nnote: %s\n", note)
	}
	if len(b.failures) > 0 {
		fmt.Fprintf(w, "\n%d failures:\n", len(b.failures))
		for _, f := range b.failures {
			fmt.Fprintf(w, "  %s\n", f)
		}
	}

	fmt.Fprintln(w)
	for _, op := range ops {
		m := b.medians(op)
		suffix := map[string]string{"ms": "_ms", "ms CPU": "_cpu_ms", "KiB": "_kib", "ctr/s": "_ctr_per_s"}[unit(op)]
		fields := []string{"BENCH", "op=" + op}
		for _, rt := range b.runtimes {
			fields = append(fields, rt.name+suffix+"="+value(op, m[rt.name], "NA"))
		}
		fields = append(fields,
			"rung/runc="+ratioOr(m["rung"], m["runc"], "NA"),
			"rung/crun="+ratioOr(m["rung"], m["crun"], "NA"))
		fmt.Fprintln(w, strings.Join(fields, " "))
	}
}

// medians maps each runtime with samples for op to their median; a
// runtime without any is absent.
func (b *bench) medians(op string) map[string]*float64 {
	m := map[string]*float64{}
	for _, rt := range b.runtimes {
		if s := b.samples[rt.name][op]; len(s) > 0 {
			v := median(s)
			m[rt.name] = &v
		}
	}
	return m
}

// cell is one table entry, flagged with its sample count when some
// iterations failed.
func (b *bench) cell(rt *runtime, op string, med *float64, n int) string {
	s := value(op, med, "n/a")
	if unit(op) == "ctr/s" {
		n = b.tputRounds
	}
	if k := len(b.samples[rt.name][op]); med != nil && k < n {
		s += fmt.Sprintf(" (n=%d)", k)
	}
	return s
}

func median(s []float64) float64 {
	c := append([]float64(nil), s...)
	sort.Float64s(c)
	mid := len(c) / 2
	if len(c)%2 == 1 {
		return c[mid]
	}
	return (c[mid-1] + c[mid]) / 2
}

func value(op string, v *float64, missing string) string {
	switch {
	case v == nil:
		return missing
	case isRSS(op):
		return fmt.Sprintf("%.0f", *v)
	case unit(op) == "ctr/s":
		return fmt.Sprintf("%.1f", *v)
	default:
		return fmt.Sprintf("%.2f", *v)
	}
}

func ratio(a, b *float64) string { return ratioOr(a, b, "n/a") }

func ratioOr(a, b *float64, missing string) string {
	if a == nil || b == nil || *b == 0 {
		return missing
	}
	return fmt.Sprintf("%.2f", *a / *b)
}

// spread is "p90/min/max" of s, or "n/a".
func spread(op string, s []float64) string {
	if len(s) == 0 {
		return "n/a"
	}
	f := "%.2f/%.2f/%.2f"
	if isRSS(op) {
		f = "%.0f/%.0f/%.0f"
	} else if unit(op) == "ctr/s" {
		f = "%.1f/%.1f/%.1f"
	}
	return fmt.Sprintf(f, percentile(s, 0.9), minOf(s), maxOf(s))
}

// percentile is the nearest-rank percentile (p in (0,1]).
func percentile(s []float64, p float64) float64 {
	c := append([]float64(nil), s...)
	sort.Float64s(c)
	i := int(math.Ceil(p*float64(len(c)))) - 1
	return c[max(i, 0)]
}

func minOf(s []float64) float64 { return slices.Min(s) }
func maxOf(s []float64) float64 { return slices.Max(s) }
