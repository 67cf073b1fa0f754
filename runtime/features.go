package runtime

import (
	"strings"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/rungrt/rung/initproc"
	"github.com/rungrt/rung/libns"
)

// Features is what `rung features` reports, read off the tables the code
// itself uses, so it cannot claim more than rung does. It lives in the
// runtime, which answers for the whole: the hooks and cgroups are its own,
// the mount options and seccomp init's, the namespaces libns'.
func Features() *features.Features {
	yes, no := true, false
	var ns []string
	for _, k := range libns.AllKinds() {
		ns = append(ns, k.String())
	}
	var caps []string
	last, _ := capability.LastCap()
	for _, c := range capability.List() {
		if c <= last {
			caps = append(caps, "CAP_"+strings.ToUpper(c.String()))
		}
	}
	actions, ops, archs, flags := initproc.SupportedSeccomp()
	return &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions:  initproc.SupportedMountOptions(),
		Linux: &features.Linux{
			Namespaces:   ns,
			Capabilities: caps,
			Cgroup:       &features.Cgroup{V1: &yes, V2: &yes, Systemd: &no, SystemdUser: &no, Rdma: &yes},
			Seccomp: &features.Seccomp{Enabled: &yes, Actions: actions, Operators: ops, Archs: archs,
				KnownFlags: flags, SupportedFlags: flags},
			Apparmor: &features.Apparmor{Enabled: &no},
			// Labels are applied where the host has SELinux (refused elsewhere).
			Selinux:         &features.Selinux{Enabled: &yes},
			IntelRdt:        &features.IntelRdt{Enabled: &no},
			MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: &no}},
		},
	}
}
