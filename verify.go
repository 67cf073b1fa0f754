package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
)

var verifyCommand = &cli.Command{
	Name:      "verify",
	Usage:     "prove on a live container that the isolation its config asked for is in effect",
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"},
	},
	Action: func(c *cli.Context) error {
		ct, err := loadContainer(c)
		if err != nil {
			return err
		}
		r, err := ct.Verify()
		if err != nil {
			return err
		}
		switch f := c.String("format"); f {
		case "json":
			if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
				return err
			}
		case "table":
			w := tabwriter.NewWriter(os.Stdout, 8, 1, 2, ' ', 0)
			fmt.Fprintln(w, "NAMESPACE\tWANT\tFOUND\tINODE\tOK")
			for _, n := range r.Namespaces {
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%v\n", n.Kind, n.Want, n.Found, n.Inode, n.OK)
			}
			w.Flush()
			fmt.Printf("rung: %s (promised %s)\nCapEff %s  CapBnd %s  NoNewPrivs %s  Seccomp %s\n",
				r.Rung, r.Promised, r.CapEff, r.CapBnd, r.NoNewPrivs, r.Seccomp)
			for _, p := range r.Problems {
				fmt.Println("problem:", p)
			}
			for _, x := range r.Exposures {
				fmt.Println("exposure:", x)
			}
		default:
			return fmt.Errorf("invalid format option %q", f)
		}
		if !r.OK() {
			return fmt.Errorf("container %s: isolation not as configured: %d problem(s)", r.ID, len(r.Problems))
		}
		return nil
	},
}
