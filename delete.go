package main

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/rungrt/rung/runtime"
)

var deleteCommand = &cli.Command{
	Name:      "delete",
	Usage:     "delete a container and everything it holds",
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill the container first if it is running"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 1); err != nil {
			return err
		}
		root, id, force := c.String("root"), c.Args().First(), c.Bool("force")
		ct, err := runtime.Load(root, id)
		if errors.Is(err, runtime.ErrNotExist) || force && errors.Is(err, runtime.ErrCorruptState) {
			// A create killed half-way leaves a state directory without a
			// state file; delete cleans it up, and with --force one whose
			// state file is corrupt.
			err = runtime.DeleteLeftover(root, id, force)
			if errors.Is(err, runtime.ErrNotExist) && force {
				return nil
			}
			if !errors.Is(err, runtime.ErrStateAppeared) {
				return err
			}
			ct, err = runtime.Load(root, id) // the create it waited for finished
		}
		if err != nil {
			return err
		}
		err = ct.Delete(force)
		if errors.Is(err, runtime.ErrNotExist) && force {
			return nil // deleted meanwhile by another caller
		}
		return err
	},
}
