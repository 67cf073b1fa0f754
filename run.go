package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/rungrt/rung/internal/phase"
	"github.com/rungrt/rung/runtime"
)

var runCommand = &cli.Command{
	Name:      "run",
	Usage:     "create and start a container; in the foreground, wait for it and remove it",
	ArgsUsage: "<container-id>",
	Flags: append([]cli.Flag{
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "return once the container has started"},
		&cli.BoolFlag{Name: "keep", Usage: "do not delete the container after it exits"},
	}, createFlags...),
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 1); err != nil {
			return err
		}
		o, err := createOptions(c)
		if err != nil {
			return fmt.Errorf("rung run failed: %w", err)
		}
		o.RelayTerminal = !c.Bool("detach")
		o.StartsAtOnce = true
		ct, err := runtime.Create(o)
		if err != nil {
			return fmt.Errorf("rung run failed: %w", err)
		}
		if err := ct.Start(); err != nil {
			_ = ct.Delete(true)
			return fmt.Errorf("rung run failed: %w", err)
		}
		if c.Bool("detach") {
			return nil
		}
		status, err := ct.Wait()
		phase.Mark("exited")
		if !c.Bool("keep") {
			if derr := ct.Delete(true); derr != nil && err == nil {
				err = derr
			}
		}
		phase.Mark("deleted")
		if err != nil {
			return fmt.Errorf("wait for container: %w", err)
		}
		os.Exit(status)
		return nil
	},
}
