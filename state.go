package main

import (
	"encoding/json"
	"os"

	"github.com/urfave/cli/v2"
)

var stateCommand = &cli.Command{
	Name:      "state",
	Usage:     "print the state of a container as JSON",
	ArgsUsage: "<container-id>",
	Action: func(c *cli.Context) error {
		ct, err := loadContainer(c)
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
