package main

import (
	"encoding/json"
	"errors"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rungrt/rung/runtime"
)

var eventsCommand = &cli.Command{
	Name:      "events",
	Usage:     "print a container's resource statistics and OOM events as JSON lines",
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.DurationFlag{Name: "interval", Value: 5 * time.Second, Usage: "time between stats events"},
		&cli.BoolFlag{Name: "stats", Usage: "print the statistics once and exit"},
	},
	Action: func(c *cli.Context) error {
		ct, err := loadContainer(c)
		if err != nil {
			return err
		}
		interval := c.Duration("interval")
		if interval <= 0 {
			return errors.New("--interval: duration must be greater than 0")
		}
		enc := json.NewEncoder(os.Stdout)
		stats := func() error {
			s, err := ct.Stats()
			if err != nil {
				return err
			}
			return enc.Encode(runtime.Event{Type: "stats", ID: ct.Rec.ID, Data: s})
		}
		if c.Bool("stats") {
			return stats()
		}
		// The stream: stats every interval, an "oom" event as soon as the
		// kernel's OOM killer has struck (checked each second or interval), until the
		// container stops.
		ooms := ct.OOMKills()
		every := min(interval, time.Second)
		tick := time.NewTicker(every)
		defer tick.Stop()
		next := time.Now()
		for range tick.C {
			if ct.Status() == runtime.Stopped {
				return nil
			}
			if n := ct.OOMKills(); n > ooms {
				ooms = n
				if err := enc.Encode(runtime.Event{Type: "oom", ID: ct.Rec.ID}); err != nil {
					return err
				}
			}
			if !time.Now().Before(next) {
				next = time.Now().Add(interval)
				if err := stats(); err != nil {
					return err
				}
			}
		}
		return nil
	},
}
