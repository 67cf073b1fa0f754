package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rungrt/rung/runtime"
)

var listCommand = &cli.Command{
	Name:  "list",
	Usage: "list the containers under --root",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the IDs"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 0, 0); err != nil {
			return err
		}
		cts, err := runtime.List(c.String("root"))
		if err != nil {
			return err
		}
		if c.Bool("quiet") {
			for _, ct := range cts {
				fmt.Println(ct.Rec.ID)
			}
			return nil
		}
		// runc's list JSON: the state with the owner's name filled in.
		var states []runtime.State
		for _, ct := range cts {
			st := ct.State()
			st.Owner = ct.Owner()
			states = append(states, st)
		}
		switch f := c.String("format"); f {
		case "json":
			return json.NewEncoder(os.Stdout).Encode(states)
		case "table":
			w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
			fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
			for _, st := range states {
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", st.ID, st.Pid, st.Status, st.Bundle, st.Created.Format(time.RFC3339Nano), st.Owner)
			}
			return w.Flush()
		default:
			return fmt.Errorf("invalid format option %q", f)
		}
	},
}
