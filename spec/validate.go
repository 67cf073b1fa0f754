package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rungrt/rung/libns"
)

// RootfsPath is the absolute path of the container's root filesystem.
func RootfsPath(s *specs.Spec, bundle string) string {
	p := s.Root.Path
	if !filepath.IsAbs(p) {
		p = filepath.Join(bundle, p)
	}
	return filepath.Clean(p)
}

// Validate checks a config against what rung can honour, and builds its
// namespace plan. Every error names the field at fault.
func Validate(s *specs.Spec, bundle string) (Plan, error) {
	if s.Root == nil || s.Root.Path == "" {
		return Plan{}, errors.New("root.path: the config names no root filesystem")
	}
	rootfs := RootfsPath(s, bundle)
	fi, err := os.Stat(rootfs)
	if err != nil {
		return Plan{}, fmt.Errorf("root.path: rootfs %s: %w", rootfs, err)
	}
	if !fi.IsDir() {
		return Plan{}, fmt.Errorf("root.path: rootfs %s is not a directory", rootfs)
	}
	if err := validateProcess(s.Process); err != nil {
		return Plan{}, err
	}
	if s.Linux == nil {
		return Plan{}, errors.New("linux: the config has no linux section")
	}
	plan, err := PlanNamespaces(s)
	if err != nil {
		return Plan{}, err
	}
	if err := validateUserNS(s, plan.Create, plan.Joined()); err != nil {
		return Plan{}, err
	}
	// A joined namespace is the container's own too (a pod's, say).
	own := plan.Create | plan.Joined()
	if s.Hostname != "" && !own.Has(libns.UTS) {
		return Plan{}, errors.New("hostname: setting the hostname needs a private uts namespace")
	}
	if s.Domainname != "" && !own.Has(libns.UTS) {
		return Plan{}, errors.New("domainname: setting the domain name needs a private uts namespace")
	}
	if s.Linux.IntelRdt != nil {
		return Plan{}, errors.New("linux.intelRdt: Intel RDT is not supported")
	}
	for i, m := range s.Mounts {
		if !filepath.IsAbs(m.Destination) {
			return Plan{}, fmt.Errorf("mounts[%d].destination: %q is not an absolute path", i, m.Destination)
		}
	}
	return plan, nil
}

func validateProcess(p *specs.Process) error {
	if p == nil {
		return errors.New("process: the config has no process to run")
	}
	if len(p.Args) == 0 || p.Args[0] == "" {
		return errors.New("process.args: no command given")
	}
	if !filepath.IsAbs(p.Cwd) {
		return fmt.Errorf("process.cwd: %q is not an absolute path", p.Cwd)
	}
	for i, rl := range p.Rlimits {
		if _, ok := RlimitResource(rl.Type); !ok {
			return fmt.Errorf("process.rlimits[%d].type: unknown rlimit %q", i, rl.Type)
		}
		if rl.Soft > rl.Hard {
			return fmt.Errorf("process.rlimits[%d]: soft limit %d above hard limit %d", i, rl.Soft, rl.Hard)
		}
	}
	for i, e := range p.Env {
		if !strings.Contains(e, "=") {
			return fmt.Errorf("process.env[%d]: %q is not KEY=VALUE", i, e)
		}
	}
	return nil
}

// validateUserNS requires id mappings exactly when a user namespace is
// created, and that they map container root: init needs root in the new
// namespace to build the rootfs.
func validateUserNS(s *specs.Spec, created, joined libns.Set) error {
	l := s.Linux
	if joined.Has(libns.User) {
		return nil // the joined namespace has its mappings already
	}
	if !created.Has(libns.User) {
		if len(l.UIDMappings) > 0 || len(l.GIDMappings) > 0 {
			return errors.New("linux.uidMappings: id mappings given without a user namespace")
		}
		return nil
	}
	for _, m := range []struct {
		field string
		maps  []specs.LinuxIDMapping
	}{{"linux.uidMappings", l.UIDMappings}, {"linux.gidMappings", l.GIDMappings}} {
		if len(m.maps) == 0 {
			return fmt.Errorf("%s: a user namespace needs id mappings", m.field)
		}
		if !mapsID(m.maps, 0) {
			return fmt.Errorf("%s: container id 0 is not mapped", m.field)
		}
		for i, mp := range m.maps {
			if mp.Size == 0 {
				return fmt.Errorf("%s[%d]: size 0", m.field, i)
			}
		}
	}
	return nil
}

func mapsID(maps []specs.LinuxIDMapping, id uint32) bool {
	for _, m := range maps {
		if id >= m.ContainerID && id-m.ContainerID < m.Size {
			return true
		}
	}
	return false
}
