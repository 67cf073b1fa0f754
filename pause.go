package main

import (
	"github.com/urfave/cli"

	"github.com/rungrt/rung/runtime"
)

var pauseCommand = cli.Command{
	Name:      "pause",
	Usage:     "freeze every process of a container (freezer cgroup)",
	ArgsUsage: "<container-id>",
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 1); err != nil {
			return err
		}
		ct, err := runtime.Load(c.GlobalString("root"), c.Args().First())
		if err != nil {
			return err
		}
		return ct.Pause()
	},
}

var resumeCommand = cli.Command{
	Name:      "resume",
	Usage:     "thaw a paused container",
	ArgsUsage: "<container-id>",
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 1); err != nil {
			return err
		}
		ct, err := runtime.Load(c.GlobalString("root"), c.Args().First())
		if err != nil {
			return err
		}
		return ct.Resume()
	},
}
