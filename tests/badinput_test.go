package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestBadInput: each broken input gives one clear error, a non-zero exit,
// and leaves nothing behind.
func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		id   string
		edit func(e *env, b string)
		want string
	}{
		{"broken json", "c", func(e *env, b string) {
			os.WriteFile(filepath.Join(b, "config.json"), []byte(`{"ociVersion": "1.0.2", "process": {`), 0o644)
		}, "parse config.json"},
		{"missing config", "c", func(e *env, b string) { os.Remove(filepath.Join(b, "config.json")) },
			"JSON specification file config.json not found"},
		{"missing rootfs", "c", func(e *env, b string) { os.RemoveAll(filepath.Join(b, "rootfs")) }, "root.path"},
		{"bad id slash", "a/b", nil, "invalid container ID format"},
		{"bad id dotdot", "..", nil, "invalid container ID format"},
		{"unknown namespace", "c", func(e *env, b string) {
			e.editSpec(b, func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
			})
		}, "linux.namespaces[6]: unknown namespace type"},
		{"user namespace without mapping", "c", func(e *env, b string) {
			e.editSpec(b, func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			})
		}, "linux.uidMappings: a user namespace needs id mappings"},
		{"user namespace alone", "c", func(e *env, b string) {
			e.editSpec(b, func(s *specs.Spec) {
				s.Mounts, s.Linux.MaskedPaths, s.Linux.ReadonlyPaths, s.Root.Readonly, s.Hostname = nil, nil, nil, false, ""
				s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.UserNamespace}, {Type: specs.NetworkNamespace}}
				s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1000}}
				s.Linux.GIDMappings = s.Linux.UIDMappings
			})
		}, "a user namespace needs a mount or pid namespace"},
		{"missing executable", "c", func(e *env, b string) {
			e.editSpec(b, func(s *specs.Spec) { s.Process.Args = []string{"/bin/nope"} })
		}, "no such file or directory"},
		{"missing cwd parent is a file", "c", func(e *env, b string) {
			os.WriteFile(filepath.Join(b, "rootfs/afile"), nil, 0o644)
			e.editSpec(b, func(s *specs.Spec) { s.Process.Cwd = "/afile/sub" })
		}, "process.cwd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			b := e.bundle("b", "strict", sleeper)
			if tc.edit != nil {
				tc.edit(e, b)
			}
			for _, cmd := range []string{"create", "run"} {
				r := e.rung(cmd, "--bundle", b, tc.id)
				failed(t, cmd, r, tc.want)
				if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n != 0 {
					t.Errorf("%s: want one error line, got %d: %q", cmd, n+1, r.stderr)
				}
				if tc.id == "c" {
					e.noLeftovers(tc.id)
				}
			}
			if entries, _ := os.ReadDir(e.root); len(entries) != 0 {
				t.Errorf("state root not empty: %v", entries)
			}
		})
	}
}

func TestDuplicateID(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "strict", sleeper)
	e.must("create", "--bundle", b, "dup")
	pid := e.state("dup").Pid
	e.mustFail(t, "container with id exists: dup", "create", "--bundle", b, "dup")
	// The first container is untouched.
	if st := e.state("dup"); st.Status != specs.StateCreated || st.Pid != pid {
		t.Fatalf("first container after duplicate create: %+v", st)
	}
	e.must("delete", "-f", "dup")
	e.noLeftovers("dup")
}

func TestMissingBundleAndUnknownContainer(t *testing.T) {
	e := newEnv(t)
	e.mustFail(t, "bundle", "create", "--bundle", filepath.Join(e.dir, "nope"), "c")
	e.noLeftovers("c")
	for _, cmd := range [][]string{{"state", "x"}, {"start", "x"}, {"kill", "x"}, {"delete", "x"}} {
		r := e.rung(cmd...)
		if r.code != 1 || !strings.Contains(r.stderr, "container does not exist") {
			t.Errorf("%v on a missing container: exit %d %s", cmd, r.code, r.stderr)
		}
	}
}

// TestHalfWrittenStateDir: a state directory without state.json, what a
// create killed half-way leaves, reads as missing and delete removes it.
func TestHalfWrittenStateDir(t *testing.T) {
	e := newEnv(t)
	os.MkdirAll(filepath.Join(e.root, "half"), 0o700)
	e.mustFail(t, "container does not exist", "state", "half")
	if r := e.must("list", "-q"); r.stdout != "" {
		t.Fatalf("list shows %q", r.stdout)
	}
	e.must("delete", "half")
	e.noLeftovers("half")
	// A corrupt state file is an error, not a crash or a guess.
	os.MkdirAll(filepath.Join(e.root, "bad"), 0o700)
	os.WriteFile(filepath.Join(e.root, "bad", "state.json"), []byte("{"), 0o600)
	e.mustFail(t, "corrupt state file", "state", "bad")
	os.RemoveAll(filepath.Join(e.root, "bad"))
}

// crun's and runc's cgroup manager flags: cgroupfs works; disabled (which
// would drop every resource limit) and contradicting flags are refused
// with a clear error and leave nothing. (systemd: TestSystemdCgroupManager.)
func TestCgroupManagerFlags(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "strict", sleeper)
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--systemd-cgroup", "--cgroup-manager", "cgroupfs"}, "contradict each other"},
		{[]string{"--cgroup-manager", "disabled"}, "--cgroup-manager disabled: not supported"},
		{[]string{"--cgroup-manager", "bogus"}, "unknown manager"},
	} {
		e.mustFail(t, tc.want, append(tc.flags, "create", "--bundle", b, "c")...)
		e.noLeftovers("c")
	}
	e.must("--cgroup-manager", "cgroupfs", "create", "--bundle", b, "c")
	e.must("delete", "--force", "c")
	e.noLeftovers("c")
}
