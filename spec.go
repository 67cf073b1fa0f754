package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/cgroups"
	"github.com/urfave/cli/v2"

	"github.com/rungrt/rung/libns"
	"github.com/rungrt/rung/spec"
)

var specCommand = &cli.Command{
	Name:  "spec",
	Usage: "write a default config.json into the bundle",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Value: ".", Usage: "bundle directory to write config.json to"},
		&cli.StringFlag{Name: "isolation", Usage: "namespace set: none, standard, strict or quantum (default: runc's set)"},
		&cli.BoolFlag{Name: "rootless", Usage: "a config for a rootless container"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 0, 0); err != nil {
			return err
		}
		// Without --isolation: runc's template, cgroup namespace rule included.
		tpl := spec.Default(cgroups.IsCgroup2UnifiedMode())
		if c.IsSet("isolation") {
			r, err := libns.ParseRung(c.String("isolation"))
			if err != nil {
				return fmt.Errorf("--isolation: %w", err)
			}
			tpl = spec.Template(r)
		}
		if c.Bool("rootless") {
			spec.Rootless(tpl, uint32(os.Geteuid()), uint32(os.Getegid()))
		}
		path := filepath.Join(c.String("bundle"), spec.ConfigName)
		data, err := json.MarshalIndent(tpl, "", "\t")
		if err != nil {
			return err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("File %s exists. Remove it first", spec.ConfigName)
		}
		if err != nil {
			return err
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	},
}
