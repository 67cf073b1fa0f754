package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestHostProcWithoutPidNamespace (issue 15 §6.6): a container with a
// mount namespace of its own but no pid namespace, and /proc mounted,
// reaches the host's root through /proc/<pid>/root of a host root
// process without capabilities. runc runs that config as asked, and rung
// too (the config says it), but it is not what a mount namespace
// promises: rung warns at create, naming the proc mount and
// linux.namespaces (and under --min-isolation standard, which has no pid
// namespace, the rung), records hostProc in the state's isolation and
// shows the exposure in verify.
func TestHostProcWithoutPidNamespace(t *testing.T) {
	e := newEnv(t)
	marker := filepath.Join(e.dir, "host-marker")
	os.WriteFile(marker, []byte("host secret\n"), 0o600)
	// A host root process with no capability at all.
	host := exec.Command("setpriv", "--bounding-set=-all", "--inh-caps=-all", "sleep", "1000")
	if err := host.Start(); err != nil {
		t.Fatalf("setpriv (util-linux): %v", err)
	}
	defer func() { host.Process.Kill(); host.Wait() }()
	through := "/proc/" + strconv.Itoa(host.Process.Pid) + "/root" + marker
	b := e.bundle("b", "standard", func(s *specs.Spec) {
		s.Process.Args = []string{"cat", through}
	})
	// The attack: it works, and it is what the config asked for.
	r := e.rung("run", "--bundle", b, "hp-c")
	if r.code != 0 || r.stdout != "host secret\n" {
		t.Fatalf("reading the host through /proc/<pid>/root: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "proc mount without a pid namespace") {
		t.Errorf("no warning at create: %q", r.stderr)
	}
	if rr := e.runcRun(b, "hp-c"); rr.code != 0 || rr.stdout != "host secret\n" {
		t.Logf("runc on the same config: exit %d %q %q", rr.code, rr.stdout, rr.stderr)
	}
	e.noLeftovers("hp-c")
	// --min-isolation standard shows it, naming the fields.
	r = e.rung("run", "--min-isolation", "standard", "--bundle", b, "hp-c")
	if r.code != 0 || !strings.Contains(r.stderr, "--min-isolation standard: allowed") || !strings.Contains(r.stderr, "mounts[") || !strings.Contains(r.stderr, "proc on /proc") || !strings.Contains(r.stderr, "linux.namespaces") {
		t.Errorf("--min-isolation standard: exit %d %q, want it run with a warning naming the fields", r.code, r.stderr)
	}
	e.noLeftovers("hp-c")
	// state and verify show it on a running one.
	e.editSpec(b, sleeper)
	e.must("run", "-d", "--bundle", b, "hp-c")
	if s := e.must("state", "hp-c").stdout; !strings.Contains(s, `"hostProc": true`) {
		t.Errorf("state does not show hostProc: %s", s)
	}
	v := e.must("verify", "hp-c")
	if !strings.Contains(v.stdout, "exposure: proc on /proc") {
		t.Errorf("verify shows no exposure: %q", v.stdout)
	}
	e.must("delete", "-f", "hp-c")
	e.noLeftovers("hp-c")
	// With a pid namespace of its own there is nothing to tell.
	b = e.bundle("strict", "strict", sleeper)
	e.must("run", "-d", "--min-isolation", "standard", "--bundle", b, "hp-s")
	if s := e.must("state", "hp-s").stdout; strings.Contains(s, "hostProc") {
		t.Errorf("state of a strict container shows hostProc: %s", s)
	}
	if v := e.must("verify", "hp-s"); strings.Contains(v.stdout, "exposure") {
		t.Errorf("verify of a strict container shows an exposure: %q", v.stdout)
	}
	e.must("delete", "-f", "hp-s")
	e.noLeftovers("hp-s")
}
