package spec

import (
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Rootless turns a Default template into the config `rung spec
// --rootless` writes, with runc's adjustments field by field:
//   - a user namespace mapping the caller's uid and gid (one id each) to
//     root, the only mapping an unprivileged user may write itself;
//   - no network namespace: an empty one has no route out, and a user
//     cannot configure a veth pair without a helper (slirp4netns, pasta);
//   - devpts without gid=5: the tty group is not mapped in the namespace;
//   - /sys bound from the host instead of a fresh sysfs: sysfs can only be
//     mounted by the owner of the network namespace, here the host's;
//   - no resources: an unprivileged caller has no cgroup to limit.
func Rootless(s *specs.Spec, uid, gid uint32) {
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	var ns []specs.LinuxNamespace
	for _, n := range s.Linux.Namespaces {
		if n.Type != specs.NetworkNamespace && n.Type != specs.UserNamespace {
			ns = append(ns, n)
		}
	}
	s.Linux.Namespaces = append(ns, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uid, Size: 1}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: gid, Size: 1}}
	for i := range s.Mounts {
		m := &s.Mounts[i]
		switch m.Type {
		case "devpts":
			var opts []string
			for _, o := range m.Options {
				if !strings.HasPrefix(o, "gid=") {
					opts = append(opts, o)
				}
			}
			m.Options = opts
		case "sysfs":
			m.Type, m.Source = "none", "/sys"
			m.Options = append([]string{"rbind"}, m.Options...)
		}
	}
	s.Linux.Resources = nil
}
