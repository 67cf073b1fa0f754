package main

import (
	"encoding/json"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/rungrt/rung/runtime"
)

var featuresCommand = &cli.Command{
	Name:  "features",
	Usage: "print the runtime-spec features rung supports, as JSON",
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 0, 0); err != nil {
			return err
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "    ")
		return enc.Encode(runtime.Features())
	},
}
