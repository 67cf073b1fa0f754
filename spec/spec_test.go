package spec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rungrt/rung/libns"
)

// bundle makes a bundle directory with an empty rootfs.
func bundle(t *testing.T) string {
	t.Helper()
	b := t.TempDir()
	if err := os.Mkdir(filepath.Join(b, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParse(t *testing.T) {
	for _, tc := range []struct{ name, json, want string }{
		{"broken", `{"ociVersion": "1.0.2", "process": {`, "parse config.json"},
		{"trailing data", `{"ociVersion": "1.0.2"} {}`, "trailing data"},
	} {
		if _, err := Parse([]byte(tc.json)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	// The spec: unknown properties MUST NOT be an error.
	s, err := Parse([]byte(`{"ociVersion": "1.0.2", "hostname": "h", "bogus": {"x": 1}}`))
	if err != nil || s.Hostname != "h" {
		t.Fatalf("valid config: %v %+v", err, s)
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "JSON specification file config.json not found") {
		t.Fatalf("missing config.json: %v", err)
	}
}

func TestTemplateEachRung(t *testing.T) {
	for _, tc := range []struct {
		rung libns.Rung
		want string
	}{
		{libns.None, "none"}, {libns.Standard, "standard"}, {libns.Strict, "strict+uts,cgroup"}, {libns.Quantum, "quantum+cgroup"},
	} {
		s := Template(tc.rung)
		data, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(data)
		if err != nil {
			t.Fatalf("%s: template does not parse back: %v", tc.rung, err)
		}
		plan, err := Validate(back, bundle(t))
		if err != nil {
			t.Fatalf("%s: template does not validate: %v", tc.rung, err)
		}
		if got := plan.Reading.String(); got != tc.want {
			t.Errorf("%s: reads %s, want %s", tc.rung, got, tc.want)
		}
	}
	if s := Template(libns.None); len(s.Mounts) != 0 || s.Root.Readonly || len(s.Linux.MaskedPaths) != 0 {
		t.Errorf("none template has mounts or a read-only root: %+v", s)
	}
	if s := Template(libns.Quantum); len(s.Linux.UIDMappings) != 1 || s.Linux.UIDMappings[0].HostID == 0 {
		t.Errorf("quantum template maps container root to host root: %+v", s.Linux.UIDMappings)
	}
}

func TestPlanNamespaces(t *testing.T) {
	ns := func(list ...specs.LinuxNamespace) *specs.Spec {
		return &specs.Spec{Linux: &specs.Linux{Namespaces: list}}
	}
	n := func(t specs.LinuxNamespaceType) specs.LinuxNamespace { return specs.LinuxNamespace{Type: t} }
	for _, tc := range []struct {
		name string
		s    *specs.Spec
		want string
	}{
		{"unknown", ns(n("bogus")), "linux.namespaces[0]: unknown namespace type"},
		{"twice", ns(n(specs.PIDNamespace), n(specs.PIDNamespace)), "linux.namespaces[1]: pid namespace listed twice"},
		{"relative path", ns(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "x"}), "linux.namespaces[0].path"},
		{"user alone", ns(n(specs.UserNamespace), n(specs.NetworkNamespace)), "needs a mount or pid namespace"},
		{"new user with joins", ns(n(specs.UserNamespace), n(specs.MountNamespace), specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/proc/1/ns/net"}),
			"creating a new user namespace"},
	} {
		if _, err := PlanNamespaces(tc.s); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	p, err := PlanNamespaces(ns(n(specs.PIDNamespace)))
	if err != nil || len(p.Warnings) != 1 {
		t.Errorf("pid without mount: %v %v", p.Warnings, err)
	}
	p, err = PlanNamespaces(ns(n(specs.MountNamespace), n(specs.PIDNamespace), specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/proc/1/ns/net"}, n(specs.IPCNamespace)))
	if err != nil || p.Create != libns.NewSet(libns.Mount, libns.PID, libns.IPC) || p.Joined() != libns.NewSet(libns.Net) ||
		p.Join[0].Index != 2 || p.Reading.String() != "strict" {
		t.Errorf("mixed plan: %+v %v", p, err)
	}
}

func TestValidate(t *testing.T) {
	good := func() *specs.Spec { return Template(libns.Strict) }
	for _, tc := range []struct {
		name string
		edit func(s *specs.Spec, b string)
		want string
	}{
		{"no root", func(s *specs.Spec, b string) { s.Root = nil }, "root.path"},
		{"rootfs missing", func(s *specs.Spec, b string) { s.Root.Path = "nope" }, "root.path: rootfs"},
		{"rootfs a file", func(s *specs.Spec, b string) {
			os.WriteFile(filepath.Join(b, "f"), nil, 0o644)
			s.Root.Path = "f"
		}, "is not a directory"},
		{"no process", func(s *specs.Spec, b string) { s.Process = nil }, "process:"},
		{"no args", func(s *specs.Spec, b string) { s.Process.Args = nil }, "process.args"},
		{"relative cwd", func(s *specs.Spec, b string) { s.Process.Cwd = "tmp" }, "process.cwd"},
		{"bad rlimit", func(s *specs.Spec, b string) { s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_BOGUS"}} }, "process.rlimits[0].type"},
		{"soft above hard", func(s *specs.Spec, b string) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 2, Hard: 1}}
		}, "soft limit 2 above hard limit 1"},
		{"env without =", func(s *specs.Spec, b string) { s.Process.Env = []string{"FOO"} }, "process.env[0]"},
		{"no linux", func(s *specs.Spec, b string) { s.Linux = nil }, "linux:"},
		{"user without maps", func(s *specs.Spec, b string) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		}, "linux.uidMappings: a user namespace needs id mappings"},
		{"root not mapped", func(s *specs.Spec, b string) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 1, HostID: 1000, Size: 10}}
			s.Linux.GIDMappings = s.Linux.UIDMappings
		}, "container id 0 is not mapped"},
		{"maps without user", func(s *specs.Spec, b string) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}
		}, "without a user namespace"},
		{"hostname without uts", func(s *specs.Spec, b string) {
			var keep []specs.LinuxNamespace
			for _, n := range s.Linux.Namespaces {
				if n.Type != specs.UTSNamespace {
					keep = append(keep, n)
				}
			}
			s.Linux.Namespaces = keep
		}, "hostname:"},
		{"relative mount destination", func(s *specs.Spec, b string) { s.Mounts[0].Destination = "proc" }, "mounts[0].destination"},
		{"intel rdt", func(s *specs.Spec, b string) { s.Linux.IntelRdt = &specs.LinuxIntelRdt{} }, "linux.intelRdt"},
	} {
		b := bundle(t)
		s := good()
		tc.edit(s, b)
		if _, err := Validate(s, b); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestRootlessTemplate pins the rootless adjustments; tests/rootless_test.go
// compares the whole file with `runc spec --rootless`.
func TestRootlessTemplate(t *testing.T) {
	s := Default(false)
	Rootless(s, 1234, 5678)
	var kinds []string
	for _, n := range s.Linux.Namespaces {
		kinds = append(kinds, string(n.Type))
	}
	if got := strings.Join(kinds, ","); got != "pid,ipc,uts,mount,user" {
		t.Errorf("namespaces %s", got)
	}
	if m := s.Linux.UIDMappings; len(m) != 1 || m[0] != (specs.LinuxIDMapping{ContainerID: 0, HostID: 1234, Size: 1}) {
		t.Errorf("uid mappings %+v", m)
	}
	if m := s.Linux.GIDMappings; len(m) != 1 || m[0] != (specs.LinuxIDMapping{ContainerID: 0, HostID: 5678, Size: 1}) {
		t.Errorf("gid mappings %+v", m)
	}
	if s.Linux.Resources != nil {
		t.Errorf("resources %+v", s.Linux.Resources)
	}
	for _, m := range s.Mounts {
		switch m.Destination {
		case "/sys":
			if m.Type != "none" || m.Source != "/sys" || m.Options[0] != "rbind" {
				t.Errorf("/sys %+v", m)
			}
		case "/dev/pts":
			if strings.Contains(strings.Join(m.Options, ","), "gid=") {
				t.Errorf("/dev/pts %+v", m)
			}
		}
	}
}
