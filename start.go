package main

import (
	"github.com/urfave/cli"

	"github.com/rungrt/rung/runtime"
)

var startCommand = cli.Command{
	Name:      "start",
	Usage:     "start the user process of a created container",
	ArgsUsage: "<container-id>",
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 1); err != nil {
			return err
		}
		ct, err := runtime.Load(c.GlobalString("root"), c.Args().First())
		if err != nil {
			return err
		}
		return ct.Start()
	},
}
