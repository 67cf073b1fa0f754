package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/rungrt/rung/runtime"
)

var psCommand = &cli.Command{
	Name:      "ps",
	Usage:     "list the processes of a container",
	ArgsUsage: "<container-id> [ps options]",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json (host pids)"},
	},
	Action: func(c *cli.Context) error {
		if c.NArg() < 1 {
			return fmt.Errorf("ps: container id cannot be empty")
		}
		ct, err := runtime.Load(c.String("root"), c.Args().First())
		if err != nil {
			return err
		}
		pids, err := ct.Pids()
		if err != nil {
			return err
		}
		switch c.String("format") {
		case "json":
			return json.NewEncoder(os.Stdout).Encode(pids)
		case "table":
		default:
			return fmt.Errorf("invalid format option %q", c.String("format"))
		}
		// As runc: the host's ps, filtered to the container's pids.
		args := c.Args().Slice()[1:]
		if len(args) == 0 {
			args = []string{"-ef"}
		}
		out, err := exec.Command("ps", args...).Output()
		if err != nil {
			return fmt.Errorf("ps: %w", err)
		}
		lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
		col := -1
		for i, h := range strings.Fields(lines[0]) {
			if h == "PID" {
				col = i
			}
		}
		if col < 0 {
			return fmt.Errorf("ps: no PID column in the output of ps %s", strings.Join(args, " "))
		}
		in := map[int]bool{}
		for _, p := range pids {
			in[p] = true
		}
		fmt.Println(lines[0])
		for _, l := range lines[1:] {
			f := strings.Fields(l)
			if len(f) > col {
				if p, err := strconv.Atoi(f[col]); err == nil && in[p] {
					fmt.Println(l)
				}
			}
		}
		return nil
	},
}
