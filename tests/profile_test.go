package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RUNG_PROFILE (internal/phase, the benchmark's anatomy table): rung and
// its init both record their phase marks in the file, and the profile
// reaches the container neither as an fd nor in its environment. (Under
// a user namespace init cannot open the root-owned file and records
// nothing: strict, not quantum.)
func TestProfileMarks(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "strict", func(s *specs.Spec) {
		s.Process.Args = []string{"sh", "-c", "ls /proc/$$/fd; env"}
	})
	runWith := func(id string, env ...string) result {
		cmd := exec.Command(rungBin, "--root", e.root, "run", "--bundle", b, id)
		cmd.Env = append(os.Environ(), env...)
		r := run(cmd)
		if r.code != 0 {
			t.Fatalf("rung run %s: exit %d: %s", id, r.code, r.stderr)
		}
		return r
	}
	profile := filepath.Join(e.dir, "profile")
	plain := runWith("plain")
	profiled := runWith("profiled", "RUNG_PROFILE="+profile)

	fds := func(out string) string { f, _, _ := strings.Cut(out, "\n"); return f }
	// ls of the shell's own fds: the first line without the env below.
	if fds(profiled.stdout) != fds(plain.stdout) {
		t.Errorf("the container's fds differ with RUNG_PROFILE set: %q, without: %q", fds(profiled.stdout), fds(plain.stdout))
	}
	if strings.Contains(profiled.stdout, "RUNG_PROFILE") {
		t.Errorf("RUNG_PROFILE reached the container's environment:\n%s", profiled.stdout)
	}

	data, err := os.ReadFile(profile)
	if err != nil {
		t.Fatal(err)
	}
	at := map[string]int{}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	for i, line := range lines {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("bad profile line %q", line)
		}
		at[f[1]+" "+f[2]] = i + 1
	}
	// In the order of the file (O_APPEND), along a causal chain of one
	// run: each mark happens after the one before it in any schedule.
	// ("rung init-released" is not in it: rung marks it after sending the
	// commit, so init may mark "released" first.)
	order := []string{"rung go-init", "rung main", "rung config-loaded", "rung init-spawn",
		"init go-init", "init config-received", "init mounts", "init pivot_root", "init ready",
		"rung init-ready", "init released", "init exec",
		"rung user-execd", "rung exited", "rung deleted"}
	for i, m := range order {
		if at[m] == 0 {
			t.Errorf("mark %q missing from the profile:\n%s", m, data)
			continue
		}
		if i > 0 && at[order[i-1]] != 0 && at[m] < at[order[i-1]] {
			t.Errorf("mark %q before %q:\n%s", m, order[i-1], data)
		}
	}
}
