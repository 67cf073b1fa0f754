package main

import (
	"encoding/json"
	"os"

	"github.com/urfave/cli"

	"github.com/rungrt/rung/runtime"
)

var stateCommand = cli.Command{
	Name:      "state",
	Usage:     "print the state of a container as JSON",
	ArgsUsage: "<container-id>",
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 1); err != nil {
			return err
		}
		ct, err := runtime.Load(c.GlobalString("root"), c.Args().First())
		if err != nil {
			return err
		}
		data, err := json.MarshalIndent(ct.State(), "", "  ")
		if err != nil {
			return err
		}
		// No trailing newline, as runc prints it.
		_, err = os.Stdout.Write(data)
		return err
	},
}
