package spec

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rungrt/rung/libns"
)

// The host id range container ids map onto in a Quantum (user namespace)
// template. A range far from host uid 0 means container root is nobody on
// the host.
const (
	templateHostID = 100000
	templateIDSize = 65536
)

// Default is the config.json `rung spec` writes without --isolation: runc's
// template field by field (scripts written for runc go `spec`, then `run
// -d --console-socket`, which needs terminal: true), so also runc's
// namespace list in runc's order. Like runc, it adds a cgroup namespace
// only on a pure cgroup v2 host (cgroupNS): on v1 a cgroup namespace
// still shows the host's hierarchy paths above the container's. Two
// fields differ on purpose: ociVersion is the spec version rung
// implements, and the hostname names rung.
func Default(cgroupNS bool) *specs.Spec {
	s := Template(libns.Strict)
	s.Linux.Namespaces = nil
	for _, t := range []specs.LinuxNamespaceType{specs.PIDNamespace, specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.MountNamespace} {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t})
	}
	if cgroupNS {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}
	return s
}

// Template is the config.json `rung spec --isolation` writes: the same
// process, mounts and masked paths as `runc spec` (terminal: true
// included), with the namespace set of the requested rung. Rungs below
// Strict get no uts (so no hostname); the None rung gets no mounts at
// all, since without a mount namespace they would land on the host.
func Template(r libns.Rung) *specs.Spec {
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	s := &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: "rootfs", Readonly: true},
		Process: &specs.Process{
			Terminal: true,
			User:     specs.User{UID: 0, GID: 0},
			Args:     []string{"sh"},
			Env: []string{
				"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"TERM=xterm",
			},
			Cwd: "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  caps,
				Effective: caps,
				Permitted: caps,
				Ambient:   caps,
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Linux: &specs.Linux{
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
		},
	}
	var set libns.Set
	switch r {
	case libns.Standard:
		set = libns.NewSet(libns.Mount)
	case libns.Strict:
		set = libns.NewSet(libns.PID, libns.Net, libns.IPC, libns.UTS, libns.Mount, libns.Cgroup)
	case libns.Quantum:
		set = libns.NewSet(libns.PID, libns.Net, libns.IPC, libns.UTS, libns.Mount, libns.Cgroup, libns.User)
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: templateHostID, Size: templateIDSize}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: templateHostID, Size: templateIDSize}}
	}
	for _, k := range set.Kinds() {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: k.OCI()})
	}
	if set.Has(libns.UTS) {
		s.Hostname = "rung"
	}
	if !set.Has(libns.Mount) {
		s.Root.Readonly = false
		return s
	}
	s.Mounts = []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
	}
	s.Linux.MaskedPaths = []string{
		"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
	}
	s.Linux.ReadonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
	return s
}
