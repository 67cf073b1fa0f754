package main

import (
	"fmt"
	"io"
	"os"
	"strconv"

	units "github.com/docker/go-units"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/rungrt/rung/runtime"
)

// The single-value flags of `runc update`, with the same names.
var updateCommand = &cli.Command{
	Name:      "update",
	Usage:     "change the cgroup resources of a running container",
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "resources", Aliases: []string{"r"}, Usage: "file with a linux.resources JSON object ('-' for stdin)"},
		&cli.StringFlag{Name: "blkio-weight", Usage: "block IO weight (10 to 1000)"},
		&cli.StringFlag{Name: "cpu-period", Usage: "CPU CFS period in microseconds"},
		&cli.StringFlag{Name: "cpu-quota", Usage: "CPU CFS quota in microseconds"},
		&cli.StringFlag{Name: "cpu-share", Usage: "CPU shares (relative weight)"},
		&cli.StringFlag{Name: "cpu-rt-period", Usage: "CPU realtime period in microseconds"},
		&cli.StringFlag{Name: "cpu-rt-runtime", Usage: "CPU realtime runtime in microseconds"},
		&cli.StringFlag{Name: "cpu-idle", Usage: "SCHED_IDLE for the cgroup (0 or 1)"},
		&cli.StringFlag{Name: "cpuset-cpus", Usage: "CPUs to allow (0-3, 0,1)"},
		&cli.StringFlag{Name: "cpuset-mems", Usage: "memory nodes to allow (0-3, 0,1)"},
		&cli.StringFlag{Name: "memory", Usage: "memory limit (in bytes, or with a unit: 100m)"},
		&cli.StringFlag{Name: "memory-reservation", Usage: "memory soft limit"},
		&cli.StringFlag{Name: "memory-swap", Usage: "memory plus swap limit (-1: unlimited)"},
		&cli.StringFlag{Name: "kernel-memory", Usage: "kernel memory limit (not enforced by Linux any more)"},
		&cli.StringFlag{Name: "kernel-memory-tcp", Usage: "kernel TCP buffer limit (cgroup v1)"},
		&cli.IntFlag{Name: "pids-limit", Usage: "maximum number of pids (-1: unlimited)"},
		&cli.StringFlag{Name: "l3-cache-schema", Usage: "Intel RDT L3 schema (not supported)"},
		&cli.StringFlag{Name: "mem-bw-schema", Usage: "Intel RDT memory bandwidth schema (not supported)"},
	},
	Action: func(c *cli.Context) error {
		ct, err := loadContainer(c)
		if err != nil {
			return err
		}
		r, err := updateResources(c)
		if err != nil {
			return err
		}
		return ct.Update(r)
	},
}

// updateResources reads --resources, then lets each single-value flag
// override it.
func updateResources(c *cli.Context) (*specs.LinuxResources, error) {
	r, err := resourcesFile(c.String("resources"))
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"l3-cache-schema", "mem-bw-schema"} {
		if c.IsSet(name) {
			return nil, fmt.Errorf("--%s: Intel RDT is not supported", name)
		}
	}
	f := &resourceFlags{c: c}
	f.uint("cpu-period", func() **uint64 { return &cpuOf(r).Period })
	f.int("cpu-quota", func() **int64 { return &cpuOf(r).Quota })
	f.uint("cpu-share", func() **uint64 { return &cpuOf(r).Shares })
	f.uint("cpu-rt-period", func() **uint64 { return &cpuOf(r).RealtimePeriod })
	f.int("cpu-rt-runtime", func() **int64 { return &cpuOf(r).RealtimeRuntime })
	f.int("cpu-idle", func() **int64 { return &cpuOf(r).Idle })
	f.size("memory", func() **int64 { return &memoryOf(r).Limit })
	f.size("memory-reservation", func() **int64 { return &memoryOf(r).Reservation })
	f.size("memory-swap", func() **int64 { return &memoryOf(r).Swap })
	f.size("kernel-memory", func() **int64 { return &memoryOf(r).Kernel })
	f.size("kernel-memory-tcp", func() **int64 { return &memoryOf(r).KernelTCP })
	if f.err != nil {
		return nil, f.err
	}
	if c.IsSet("blkio-weight") {
		v, e := strconv.ParseUint(c.String("blkio-weight"), 10, 16)
		if e != nil {
			return nil, fmt.Errorf("--blkio-weight: invalid value %q", c.String("blkio-weight"))
		}
		w := uint16(v)
		r.BlockIO = &specs.LinuxBlockIO{Weight: &w}
	}
	if c.IsSet("cpuset-cpus") {
		cpuOf(r).Cpus = c.String("cpuset-cpus")
	}
	if c.IsSet("cpuset-mems") {
		cpuOf(r).Mems = c.String("cpuset-mems")
	}
	if c.IsSet("pids-limit") {
		r.Pids = &specs.LinuxPids{Limit: int64(c.Int("pids-limit"))}
	}
	if r.Memory != nil && r.Memory.Kernel != nil {
		// As at create: Linux no longer enforces it, so say so and go on.
		logrus.Warn("kernel memory limits are not enforced by Linux any more; ignored")
		r.Memory.Kernel = nil
	}
	return r, nil
}

// resourcesFile reads --resources: a linux.resources JSON file, "-" for
// standard input, none for empty resources.
func resourcesFile(path string) (*specs.LinuxResources, error) {
	if path == "" {
		return &specs.LinuxResources{}, nil
	}
	var in io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("--resources: %w", err)
		}
		defer f.Close()
		in = f
	}
	r, err := runtime.DecodeResources(in)
	if err != nil {
		return nil, fmt.Errorf("--resources: parse: %w", err)
	}
	return r, nil
}

func memoryOf(r *specs.LinuxResources) *specs.LinuxMemory {
	if r.Memory == nil {
		r.Memory = &specs.LinuxMemory{}
	}
	return r.Memory
}

func cpuOf(r *specs.LinuxResources) *specs.LinuxCPU {
	if r.CPU == nil {
		r.CPU = &specs.LinuxCPU{}
	}
	return r.CPU
}

// resourceFlags reads update's numeric flags into resource fields; the
// first bad value is kept in err and the rest are left alone.
type resourceFlags struct {
	c   *cli.Context
	err error
}

func (f *resourceFlags) uint(name string, dst func() **uint64) {
	if f.err != nil || !f.c.IsSet(name) {
		return
	}
	v, e := strconv.ParseUint(f.c.String(name), 10, 64)
	if e != nil {
		f.err = fmt.Errorf("--%s: invalid value %q", name, f.c.String(name))
		return
	}
	*dst() = &v
}

func (f *resourceFlags) int(name string, dst func() **int64) {
	if f.err != nil || !f.c.IsSet(name) {
		return
	}
	v, e := strconv.ParseInt(f.c.String(name), 10, 64)
	if e != nil {
		f.err = fmt.Errorf("--%s: invalid value %q", name, f.c.String(name))
		return
	}
	*dst() = &v
}

// size takes units as runc's flags do; -1 is unlimited.
func (f *resourceFlags) size(name string, dst func() **int64) {
	if f.err != nil || !f.c.IsSet(name) {
		return
	}
	s := f.c.String(name)
	v := int64(-1)
	if s != "-1" {
		var e error
		if v, e = units.RAMInBytes(s); e != nil {
			f.err = fmt.Errorf("--%s: invalid value %q: %w", name, s, e)
			return
		}
	}
	*dst() = &v
}
