package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// report prints the header, the table of medians and ratios, the notes and
// failures, and then one BENCH line per operation for scripts.
func (b *bench) report(w io.Writer, n, warmup int) {
	header := []string{fmt.Sprintf("bench: N=%d (after %d warm-up), medians", n, warmup)}
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
	fmt.Fprintln(w, "(ratio < 1: rung is faster / lighter; (n=K): only K of the N samples succeeded)")

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
		suffix := "_ms"
		if isRSS(op) {
			suffix = "_kib"
		}
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

func unit(op string) string {
	if isRSS(op) {
		return "KiB"
	}
	return "ms"
}

func value(op string, v *float64, missing string) string {
	switch {
	case v == nil:
		return missing
	case isRSS(op):
		return fmt.Sprintf("%.0f", *v)
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
