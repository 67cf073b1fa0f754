package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestPauseResumePs(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "strict", func(s *specs.Spec) {
		s.Root.Readonly = false
		// A child that counts: frozen, the count stops.
		s.Process.Args = []string{"sh", "-c", "(while :; do echo x >> /tmp/ticks; sleep 0.02; done) & wait"}
	})
	e.must("run", "-d", "--bundle", b, "p")
	ticks := filepath.Join(b, "rootfs/tmp/ticks")
	waitLines(t, ticks, 2) // the child has been forked
	var pids []int
	if err := json.Unmarshal([]byte(e.must("ps", "--format", "json", "p").stdout), &pids); err != nil || len(pids) < 2 {
		t.Fatalf("ps json: %v %v", pids, err)
	}
	if table := e.must("ps", "p").stdout; !strings.Contains(table, "PID") || !strings.Contains(table, " "+strconv.Itoa(e.state("p").Pid)+" ") {
		t.Fatalf("ps table:\n%s", table)
	}
	e.must("pause", "p")
	if st := e.state("p"); st.Status != "paused" {
		t.Fatalf("after pause: %s", st.Status)
	}
	before, _ := os.ReadFile(ticks)
	time.Sleep(200 * time.Millisecond)
	if after, _ := os.ReadFile(ticks); len(after) != len(before) {
		t.Fatal("a paused container kept running")
	}
	e.mustFail(t, "not stopped: paused", "delete", "p")
	e.mustFail(t, "paused", "exec", "p", "true")
	e.must("resume", "p")
	if st := e.state("p"); st.Status != "running" {
		t.Fatalf("after resume: %s", st.Status)
	}
	waitLines(t, ticks, strings.Count(string(before), "\n")+2)
	if r := e.rung("resume", "p"); r.code == 0 {
		t.Fatal("resume of a running container succeeded")
	}
	// A paused container is removed whole by delete --force.
	e.must("pause", "p")
	e.must("delete", "--force", "p")
	e.noLeftovers("p")
}
