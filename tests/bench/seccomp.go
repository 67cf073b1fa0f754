package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
)

// enginePolicy is the default seccomp profile of podman (containers-common,
// which `make deps` installs with podman): the profile a container started
// by an engine carries. It is in the engines' format, which the engine
// turns into the OCI one for the container's capabilities and this
// machine's architecture; toOCI does the same, so that all three runtimes
// compile the same few hundred rules an engine would hand them.
const enginePolicy = "/usr/share/containers/seccomp.json"

type enginePolicyFile struct {
	DefaultAction   string `json:"defaultAction"`
	DefaultErrnoRet *uint  `json:"defaultErrnoRet"`
	ArchMap         []struct {
		Arch    string   `json:"architecture"`
		SubArch []string `json:"subArchitectures"`
	} `json:"archMap"`
	Syscalls []struct {
		Names    []string         `json:"names"`
		Action   string           `json:"action"`
		ErrnoRet *uint            `json:"errnoRet"`
		Args     []map[string]any `json:"args"`
		Includes struct {
			Arches []string `json:"arches"`
			Caps   []string `json:"caps"`
		} `json:"includes"`
		Excludes struct {
			Arches []string `json:"arches"`
			Caps   []string `json:"caps"`
		} `json:"excludes"`
	} `json:"syscalls"`
}

// engineSeccomp reads enginePolicy and returns linux.seccomp for a
// container with the bounding set caps on amd64.
func engineSeccomp(caps []string) (map[string]any, error) {
	data, err := os.ReadFile(enginePolicy)
	if err != nil {
		return nil, err
	}
	var p enginePolicyFile
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("%s: %v", enginePolicy, err)
	}
	var arches []string
	for _, a := range p.ArchMap {
		if a.Arch == "SCMP_ARCH_X86_64" {
			arches = append([]string{a.Arch}, a.SubArch...)
		}
	}
	const arch = "amd64"
	var rules []map[string]any
	for _, s := range p.Syscalls {
		if len(s.Includes.Arches) > 0 && !slices.Contains(s.Includes.Arches, arch) ||
			slices.Contains(s.Excludes.Arches, arch) ||
			slices.ContainsFunc(s.Includes.Caps, func(c string) bool { return !slices.Contains(caps, c) }) ||
			slices.ContainsFunc(s.Excludes.Caps, func(c string) bool { return slices.Contains(caps, c) }) {
			continue
		}
		r := map[string]any{"names": s.Names, "action": s.Action}
		if s.ErrnoRet != nil {
			r["errnoRet"] = *s.ErrnoRet
		}
		if len(s.Args) > 0 {
			r["args"] = s.Args
		}
		rules = append(rules, r)
	}
	sc := map[string]any{"defaultAction": p.DefaultAction, "architectures": arches, "syscalls": rules}
	if p.DefaultErrnoRet != nil {
		sc["defaultErrnoRet"] = *p.DefaultErrnoRet
	}
	return sc, nil
}
