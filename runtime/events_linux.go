package runtime

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opencontainers/cgroups"
)

// Event is one line of `rung events`, in the JSON shape runc prints.
type Event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data *Stats `json:"data,omitempty"`
}

// Stats is the data of a "stats" event, with runc's field names, so that
// tools reading `runc events` read rung's too.
type Stats struct {
	CPU     CPUStats           `json:"cpu"`
	Memory  MemoryStats        `json:"memory"`
	Pids    PidsStats          `json:"pids"`
	Blkio   BlkioStats         `json:"blkio"`
	Hugetlb map[string]Hugetlb `json:"hugetlb,omitempty"`
}

type CPUStats struct {
	Usage      CPUUsage   `json:"usage"`
	Throttling Throttling `json:"throttling"`
}

type CPUUsage struct {
	Total  uint64   `json:"total,omitempty"` // nanoseconds
	Percpu []uint64 `json:"percpu,omitempty"`
	Kernel uint64   `json:"kernel"`
	User   uint64   `json:"user"`
}

type Throttling struct {
	Periods          uint64 `json:"periods,omitempty"`
	ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
	ThrottledTime    uint64 `json:"throttledTime,omitempty"`
}

type MemoryStats struct {
	Cache     uint64            `json:"cache,omitempty"`
	Usage     MemoryEntry       `json:"usage"`
	Swap      MemoryEntry       `json:"swap"`
	Kernel    MemoryEntry       `json:"kernel"`
	KernelTCP MemoryEntry       `json:"kernelTCP"`
	Raw       map[string]uint64 `json:"raw,omitempty"`
}

type MemoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

type PidsStats struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

type BlkioStats struct {
	IoServiceBytesRecursive []BlkioEntry `json:"ioServiceBytesRecursive,omitempty"`
	IoServicedRecursive     []BlkioEntry `json:"ioServicedRecursive,omitempty"`
}

type BlkioEntry struct {
	Major uint64 `json:"major,omitempty"`
	Minor uint64 `json:"minor,omitempty"`
	Op    string `json:"op,omitempty"`
	Value uint64 `json:"value,omitempty"`
}

type Hugetlb struct {
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// Stats reads the container's cgroup statistics.
func (c *Container) Stats() (*Stats, error) {
	if c.Status() == Stopped {
		return nil, errNotRunning
	}
	m, err := c.Rec.Cgroup.manager(nil)
	if err != nil {
		return nil, err
	}
	if m == nil {
		if c.Rec.Cgroup != nil {
			return nil, errNoCgroup
		}
		return &Stats{}, nil
	}
	cs, err := m.GetStats()
	if err != nil {
		return nil, err
	}
	return convertStats(cs), nil
}

func convertStats(cs *cgroups.Stats) *Stats {
	s := &Stats{}
	u := cs.CpuStats.CpuUsage
	s.CPU.Usage = CPUUsage{Total: u.TotalUsage, Percpu: u.PercpuUsage, Kernel: u.UsageInKernelmode, User: u.UsageInUsermode}
	t := cs.CpuStats.ThrottlingData
	s.CPU.Throttling = Throttling{Periods: t.Periods, ThrottledPeriods: t.ThrottledPeriods, ThrottledTime: t.ThrottledTime}
	mem := cs.MemoryStats
	entry := func(d cgroups.MemoryData) MemoryEntry {
		return MemoryEntry{Limit: d.Limit, Usage: d.Usage, Max: d.MaxUsage, Failcnt: d.Failcnt}
	}
	s.Memory = MemoryStats{Cache: mem.Cache, Usage: entry(mem.Usage), Swap: entry(mem.SwapUsage),
		Kernel: entry(mem.KernelUsage), KernelTCP: entry(mem.KernelTCPUsage), Raw: mem.Stats}
	s.Pids = PidsStats{Current: cs.PidsStats.Current, Limit: cs.PidsStats.Limit}
	blk := func(in []cgroups.BlkioStatEntry) []BlkioEntry {
		var out []BlkioEntry
		for _, e := range in {
			out = append(out, BlkioEntry{Major: e.Major, Minor: e.Minor, Op: e.Op, Value: e.Value})
		}
		return out
	}
	s.Blkio = BlkioStats{IoServiceBytesRecursive: blk(cs.BlkioStats.IoServiceBytesRecursive), IoServicedRecursive: blk(cs.BlkioStats.IoServicedRecursive)}
	if len(cs.HugetlbStats) > 0 {
		s.Hugetlb = map[string]Hugetlb{}
		for k, h := range cs.HugetlbStats {
			s.Hugetlb[k] = Hugetlb{Usage: h.Usage, Max: h.MaxUsage, Failcnt: h.Failcnt}
		}
	}
	return s
}

// OOMKills counts the processes the kernel's OOM killer has killed in the
// container's memory cgroup (the oom_kill line of memory.oom_control on
// v1, of memory.events on v2); -1 when it cannot be read.
func (c *Container) OOMKills() int64 {
	dir, file := c.Rec.Cgroup.dirs()["memory"], "memory.oom_control"
	if cgroups.IsCgroup2UnifiedMode() {
		dir, file = c.Rec.Cgroup.dirs()[""], "memory.events"
	}
	if dir == "" {
		return -1
	}
	f, err := os.Open(filepath.Join(dir, file))
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "oom_kill "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}
