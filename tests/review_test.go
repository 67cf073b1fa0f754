package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The attacks of issue 15's security review (section 6) and their kin:
// each test performs one against the built binary.

// fdEscape lists what a container process finds at fds 3..5 and tries to
// create a file next to each, through /proc/self/fd/N/.. .
const fdEscape = `for n in 3 4 5; do
	if [ -e /proc/self/fd/$n ]; then echo "LEAK fd $n: $(readlink /proc/self/fd/$n)"; fi
	touch /proc/self/fd/$n/../escaped 2>/dev/null
done; true`

// TestPreserveFdsNotPassed: --preserve-fds 3 from a caller that passed no
// fd at all. Before the fix the container got whatever rung itself had
// open at 3, 4 and 5 (the Go runtime's host cgroup cpu files and the
// state directory) and created a file on the host beside the state
// directory. Now rung refuses, naming --preserve-fds.
func TestPreserveFdsNotPassed(t *testing.T) {
	e := newEnv(t)
	check := func(what string, r result) {
		t.Helper()
		if strings.Contains(r.stdout, "LEAK") {
			t.Errorf("%s: the container got rung's own fds:\n%s", what, r.stdout)
		}
		if r.code == 0 || !strings.Contains(r.stderr, "--preserve-fds") {
			t.Errorf("%s: exit %d, want a refusal naming --preserve-fds: %s", what, r.code, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(e.root, "escaped")); err == nil {
			t.Errorf("%s: the container created a file on the host, in the state root", what)
		}
	}
	// exec.Command passes stdio only: rung's fds 3, 4 and 5 are closed.
	b := e.bundle("b", "strict", func(s *specs.Spec) { s.Process.Args = []string{"sh", "-c", fdEscape} })
	check("run", e.rung("run", "--preserve-fds", "3", "--bundle", b, "pfrun"))
	e.noLeftovers("pfrun")

	bd := e.bundle("d", "strict", sleeper)
	e.must("run", "-d", "--bundle", bd, "pfexec")
	check("exec", e.rung("exec", "--preserve-fds", "3", "pfexec", "sh", "-c", fdEscape))
	e.must("delete", "-f", "pfexec")
	e.noLeftovers("pfexec")
}
