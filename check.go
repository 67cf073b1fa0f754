package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/rungrt/rung/hostcheck"
	"github.com/rungrt/rung/libns"
)

var checkCommand = &cli.Command{
	Name:  "check",
	Usage: "report what this host can give: cgroups, systemd, user namespaces, seccomp, the mount API, and the rungs root and an unprivileged user can get",
	Description: `With --want, exits 0 when that rung is possible here for the caller, 1
otherwise, with the reason on stderr; without it, 0 once the report is
made. The report goes to stdout either way.`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "text", Usage: "text or json"},
		&cli.StringFlag{Name: "want", Usage: "the rung the caller needs: none, standard, strict or quantum (default: exit 0 whatever the host gives)"},
		&cli.StringFlag{Name: "user", Usage: "the unprivileged user root probes for, by name or uid (default: nobody)"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 0, 0); err != nil {
			return err
		}
		// Without --want the exit code only says the report was made.
		want, wanted := libns.None, c.String("want") != ""
		if wanted {
			w, err := libns.ParseRung(c.String("want"))
			if err != nil {
				return fmt.Errorf("--want: %w", err)
			}
			want = w
		}
		format := c.String("format")
		if format != "text" && format != "json" {
			return fmt.Errorf("invalid format option %q", format)
		}
		r, err := hostcheck.Run(hostcheck.Options{User: c.String("user")})
		if err != nil {
			return err
		}
		if format == "json" {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(r); err != nil {
				return err
			}
		} else {
			printCheck(os.Stdout, r)
		}
		if !wanted {
			return nil
		}
		return r.Require(want)
	},
}

func printCheck(out io.Writer, r *hostcheck.Report) {
	printFacts(out, r)
	fmt.Fprintln(out)
	w := tabwriter.NewWriter(out, 8, 1, 2, ' ', 0)
	fmt.Fprintf(w, "NAMESPACE\tROOT\t%s\n", strings.ToUpper(r.Unprivileged.User)+" (IN A USER NAMESPACE)")
	for _, k := range libns.AllKinds() {
		fmt.Fprintf(w, "%s\t%s\t%s\n", k, r.Root.Namespaces[k.String()], r.Unprivileged.Namespaces[k.String()])
	}
	w.Flush()

	fmt.Fprintln(out)
	w = tabwriter.NewWriter(out, 8, 1, 2, ' ', 0)
	fmt.Fprintf(w, "RUNG\tROOT\t%s\n", strings.ToUpper(r.Unprivileged.User))
	var why []string
	for i := range r.Root.Rungs {
		root, unpriv := r.Root.Rungs[i], r.Unprivileged.Rungs[i]
		fmt.Fprintf(w, "%s\t%s\t%s\n", root.Rung, root.State, unpriv.State)
		if root.Reason != "" {
			why = append(why, fmt.Sprintf("  %s for root: %s", root.Rung, root.Reason))
		}
		if unpriv.Reason != "" {
			why = append(why, fmt.Sprintf("  %s for %s: %s", unpriv.Rung, r.Unprivileged.User, unpriv.Reason))
		}
	}
	w.Flush()
	if len(why) > 0 {
		fmt.Fprintln(out, "why:")
		for _, l := range why {
			fmt.Fprintln(out, l)
		}
	}
	highest := func(h string) string {
		if h == "" {
			return "no rung"
		}
		return h
	}
	fmt.Fprintf(out, "highest rung: root %s, %s %s\n", highest(r.Root.Highest), r.Unprivileged.User, highest(r.Unprivileged.Highest))
	for _, n := range r.Notes {
		fmt.Fprintln(out, "note:", n)
	}
}

// printFacts prints what the host has, one fact a line.
func printFacts(out io.Writer, r *hostcheck.Report) {
	w := tabwriter.NewWriter(out, 8, 1, 2, ' ', 0)
	fmt.Fprintf(w, "kernel\t%s\n", r.Kernel)
	fmt.Fprintf(w, "caller\t%s (uid %d)\n", r.Caller.User, r.Caller.UID)

	fmt.Fprintf(w, "cgroup mode\t%s\n", r.Cgroup.Mode)
	for _, m := range r.Cgroup.V1 {
		fmt.Fprintf(w, "cgroup v1\t%s at %s\n", strings.Join(m.Controllers, ","), m.Mountpoint)
	}
	if v2 := r.Cgroup.V2; v2 != nil {
		fmt.Fprintf(w, "cgroup v2\tat %s: controllers %s; subtree_control %s\n", v2.Mountpoint, list(v2.Controllers), list(v2.SubtreeControl))
		fmt.Fprintf(w, "own cgroup v2\t%s: controllers %s\n", v2.Own, list(v2.OwnControllers))
	}

	sd := r.Systemd
	fmt.Fprintf(w, "systemd\treachable: %s; pid 1 is %s; booted with systemd: %v\n", sd.Reachable, sd.Pid1, sd.Booted)
	for _, b := range []struct {
		name string
		bus  hostcheck.Bus
	}{{"system bus", sd.SystemBus}, {"private socket", sd.Private}, {"user bus", sd.UserBus}} {
		v := ""
		if b.bus.Version != "" {
			v = ", version " + b.bus.Version
		}
		fmt.Fprintf(w, "  %s\t%s%s %s\n", b.name, b.bus.Probe, v, b.bus.Address)
	}

	u := r.UserNS
	fmt.Fprintf(w, "user namespaces\troot: %s; %s: %s\n", r.Root.Namespaces["user"], r.Unprivileged.User, r.Unprivileged.Namespaces["user"])
	fmt.Fprintf(w, "  knobs\tuser.max_user_namespaces %s; kernel.unprivileged_userns_clone %s; kernel.apparmor_restrict_unprivileged_userns %s\n",
		knob(u.MaxUserNamespaces), knob(u.UnprivilegedUsernsClone), knob(u.AppArmorRestrict))
	s := u.SubordinateIDs
	fmt.Fprintf(w, "subordinate ids\t%s: %d uid range(s), %d gid range(s); newuidmap %s; newgidmap %s; multi-range: %s\n",
		s.User, len(s.UIDs), len(s.GIDs), helper(s.Newuidmap), helper(s.Newgidmap), s.MultiRange)

	sc := r.Seccomp
	fmt.Fprintf(w, "seccomp\t%s; actions %s; user notification %s; libseccomp %s (API %d)\n",
		sc.Kernel, list(sc.Actions), sc.UserNotif, sc.Libseccomp, sc.LibseccompAPI)

	sy := r.Syscalls
	for _, c := range []struct {
		name string
		p    hostcheck.Probe
	}{{"open_tree", sy.OpenTree}, {"move_mount", sy.MoveMount}, {"mount_setattr", sy.MountSetattr},
		{"statmount", sy.Statmount}, {"pidfd_open", sy.PidfdOpen}, {"clone3", sy.Clone3}, {"CLONE_INTO_CGROUP", sy.CloneIntoCgroup}} {
		fmt.Fprintf(w, "%s\t%s\n", c.name, c.p)
	}
	w.Flush()
}

// list is a list of names for printCheck, "none" when empty.
func list(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, " ")
}

// knob is a sysctl's value for printCheck, "absent" when the kernel has none.
func knob(v *int64) string {
	if v == nil {
		return "absent"
	}
	return fmt.Sprint(*v)
}

func helper(h hostcheck.IDHelper) string {
	switch {
	case h.Path == "":
		return "not installed"
	case h.Privileged:
		return h.Path + " (privileged)"
	}
	return h.Path + " (not privileged)"
}
