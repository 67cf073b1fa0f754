package initproc

import (
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// SupportedMountOptions is every mount option init understands, sorted,
// read off the tables it parses with (runtime.Features reports them).
func SupportedMountOptions() []string {
	var opts []string
	for o := range flagOpts {
		opts = append(opts, o)
	}
	for o := range atimeOpts {
		opts = append(opts, o)
	}
	for o := range propagationOpts {
		opts = append(opts, o)
	}
	opts = append(opts, "bind", "rbind")
	sort.Strings(opts)
	return opts
}

// SupportedSeccomp is what init's filter builder takes: the actions and
// operators of its tables, the architectures libseccomp knows here, and
// the filter flags it sets.
func SupportedSeccomp() (actions, ops, archs, flags []string) {
	for a := range seccompActions {
		actions = append(actions, string(a))
	}
	for o := range seccompOps {
		ops = append(ops, string(o))
	}
	sort.Strings(actions)
	sort.Strings(ops)
	for _, a := range []specs.Arch{specs.ArchX86, specs.ArchX86_64, specs.ArchX32, specs.ArchARM, specs.ArchAARCH64} {
		if _, err := libseccomp.GetArchFromString(strings.TrimPrefix(strings.ToLower(string(a)), "scmp_arch_")); err == nil {
			archs = append(archs, string(a))
		}
	}
	flags = []string{string(specs.LinuxSeccompFlagLog), string(specs.LinuxSeccompFlagSpecAllow), string(specs.LinuxSeccompFlagWaitKillableRecv), "SECCOMP_FILTER_FLAG_TSYNC"}
	return actions, ops, archs, flags
}
