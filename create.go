package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/rungrt/rung/libns"
	"github.com/rungrt/rung/runtime"
)

// Flags shared by create and run.
var createFlags = []cli.Flag{
	&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Value: ".", Usage: "path to the root of the bundle directory"},
	&cli.StringFlag{Name: "pid-file", Usage: "file to write the container init's host pid to"},
	&cli.StringFlag{Name: "console-socket", Usage: "AF_UNIX socket to send the pty master to (process.terminal)"},
	&cli.StringFlag{Name: "pidfd-socket", Usage: "AF_UNIX socket to send a pidfd of init to"},
	&cli.BoolFlag{Name: "no-pivot", Usage: "do not use pivot_root (for a rootfs on ramfs)"},
	&cli.BoolFlag{Name: "no-new-keyring", Usage: "keep the caller's session keyring"},
	&cli.IntFlag{Name: "preserve-fds", Usage: "pass N fds beyond stdio to the container"},
	&cli.StringFlag{Name: "min-isolation", Usage: "refuse a config below this rung: none, standard, strict or quantum"},
}

var createCommand = &cli.Command{
	Name:      "create",
	Usage:     "create a container",
	ArgsUsage: "<container-id>",
	Flags:     createFlags,
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 1); err != nil {
			return err
		}
		o, err := createOptions(c)
		if err != nil {
			return fmt.Errorf("rung create failed: %w", err)
		}
		if _, err := runtime.Create(o); err != nil {
			return fmt.Errorf("rung create failed: %w", err)
		}
		return nil
	},
}

func createOptions(c *cli.Context) (runtime.CreateOptions, error) {
	id, err := containerID(c)
	if err != nil {
		return runtime.CreateOptions{}, err
	}
	o := runtime.CreateOptions{
		Root:         c.String("root"),
		ID:           id,
		Bundle:       c.String("bundle"),
		PidFile:      c.String("pid-file"),
		NoPivot:      c.Bool("no-pivot"),
		NoNewKeyring: c.Bool("no-new-keyring"),
		// Under systemd the cgroupsPath is "slice:prefix:name" and the
		// cgroup is a transient unit's.
		SystemdCgroup: systemdCgroup,
	}
	if o.Rootless, err = rootlessCgroups(); err != nil {
		return o, err
	}
	o.ConsoleSocket = c.String("console-socket")
	o.PidfdSocket = c.String("pidfd-socket")
	if n := c.Int("preserve-fds"); n < 0 || n > 1000 {
		return o, fmt.Errorf("--preserve-fds: %d is not a count of fds", n)
	}
	o.PreserveFds = c.Int("preserve-fds")
	if r := c.String("min-isolation"); r != "" {
		rung, err := libns.ParseRung(r)
		if err != nil {
			return o, fmt.Errorf("--min-isolation: %w", err)
		}
		o.MinRung = &rung
	}
	return o, nil
}
