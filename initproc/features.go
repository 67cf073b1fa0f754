package initproc

import (
	"sort"
	"strings"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	libseccomp "github.com/seccomp/libseccomp-golang"

	"github.com/rungrt/rung/libns"
)

// Features is what `rung features` reports, read off the tables the code
// itself uses, so it cannot claim more than rung does.
func Features() *features.Features {
	yes, no := true, false
	var mountOpts []string
	for o := range flagOpts {
		mountOpts = append(mountOpts, o)
	}
	for o := range atimeOpts {
		mountOpts = append(mountOpts, o)
	}
	for o := range propagationOpts {
		mountOpts = append(mountOpts, o)
	}
	mountOpts = append(mountOpts, "bind", "rbind")
	sort.Strings(mountOpts)

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
	var actions, ops []string
	for a := range seccompActions {
		actions = append(actions, string(a))
	}
	for o := range seccompOps {
		ops = append(ops, string(o))
	}
	sort.Strings(actions)
	sort.Strings(ops)
	var archs []string
	for _, a := range []specs.Arch{specs.ArchX86, specs.ArchX86_64, specs.ArchX32, specs.ArchARM, specs.ArchAARCH64} {
		if _, err := libseccomp.GetArchFromString(strings.TrimPrefix(strings.ToLower(string(a)), "scmp_arch_")); err == nil {
			archs = append(archs, string(a))
		}
	}
	flags := []string{string(specs.LinuxSeccompFlagLog), string(specs.LinuxSeccompFlagSpecAllow), string(specs.LinuxSeccompFlagWaitKillableRecv), "SECCOMP_FILTER_FLAG_TSYNC"}
	return &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions:  mountOpts,
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
