package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// cgroupFile reads a file of a live process' cgroup: its v1 cgroup for
// controller, or on a cgroup v2 host its one cgroup (file is then the v2
// name).
func cgroupFile(t *testing.T, pid int, controller, file string) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	v2 := cgroupV2()
	for _, line := range strings.Split(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		dir := ""
		switch {
		case v2 && parts[0] == "0" && parts[1] == "":
			dir = filepath.Join("/sys/fs/cgroup", parts[2])
		case !v2 && parts[1] == controller:
			dir = filepath.Join("/sys/fs/cgroup", controller, parts[2])
		}
		if dir != "" {
			v, err := os.ReadFile(filepath.Join(dir, file))
			if err != nil {
				t.Fatal(err)
			}
			return strings.TrimSpace(string(v))
		}
	}
	t.Fatalf("pid %d has no %s cgroup", pid, controller)
	return ""
}

type statsEvent struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data struct {
		Memory struct {
			Usage struct {
				Limit uint64 `json:"limit"`
				Usage uint64 `json:"usage"`
			} `json:"usage"`
		} `json:"memory"`
		Pids struct {
			Current uint64 `json:"current"`
			Limit   uint64 `json:"limit"`
		} `json:"pids"`
		CPU struct {
			Usage struct {
				Total uint64 `json:"total"`
			} `json:"usage"`
		} `json:"cpu"`
	} `json:"data"`
}

func TestUpdateAndEvents(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "strict", func(s *specs.Spec) {
		sleeper(s)
		limit := int64(100)
		s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: limit}}
	})
	e.must("run", "-d", "--bundle", b, "u")
	pid := e.state("u").Pid

	// v1 files, or their v2 names and format.
	memFile, cpuFile, cpuWant := "memory.limit_in_bytes", "cpu.cfs_quota_us", "50000"
	if cgroupV2() {
		memFile, cpuFile, cpuWant = "memory.max", "cpu.max", "50000 100000"
	}
	e.must("update", "--memory", "64m", "--pids-limit", "5", "--cpu-period", "100000", "--cpu-quota", "50000", "u")
	if got := cgroupFile(t, pid, "memory", memFile); got != strconv.Itoa(64<<20) {
		t.Fatalf("memory limit after update: %s", got)
	}
	if got := cgroupFile(t, pid, "cpu", cpuFile); got != cpuWant {
		t.Fatalf("cpu quota after update: %s", got)
	}
	// The pids limit is in effect inside: the sixth process cannot fork.
	r := e.rung("exec", "u", "sh", "-c", "for i in 1 2 3 4 5 6; do sleep 5 & done; wait")
	if !strings.Contains(r.stderr+r.stdout, "can't fork") && !strings.Contains(r.stderr+r.stdout, "Resource temporarily unavailable") {
		t.Fatalf("pids limit 5 not in effect: exit %d %s %s", r.code, r.stdout, r.stderr)
	}

	// --resources from stdin; fields it leaves out keep their value.
	cmd := exec.Command(rungBin, rungArgs("--root", e.root, "update", "--resources", "-", "u")...)
	cmd.Stdin = strings.NewReader(`{"pids": {"limit": 50}}`)
	if r := run(cmd); r.code != 0 {
		t.Fatalf("update -r -: %s", r.stderr)
	}
	if got := cgroupFile(t, pid, "pids", "pids.max"); got != "50" {
		t.Fatalf("pids.max after update -r: %s", got)
	}
	if got := cgroupFile(t, pid, "memory", memFile); got != strconv.Itoa(64<<20) {
		t.Fatalf("memory limit lost by a pids update: %s", got)
	}

	var ev statsEvent
	out := e.must("events", "--stats", "u").stdout
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatalf("events --stats: %v %q", err, out)
	}
	if ev.Type != "stats" || ev.ID != "u" || ev.Data.Pids.Limit != 50 || ev.Data.Pids.Current < 1 ||
		ev.Data.Memory.Usage.Limit != 64<<20 || ev.Data.Memory.Usage.Usage == 0 || ev.Data.CPU.Usage.Total == 0 {
		t.Fatalf("stats event: %+v", ev)
	}
	// The stream: a stats line per interval, ending when the container stops.
	stream := exec.Command(rungBin, rungArgs("--root", e.root, "events", "--interval", "200ms", "u")...)
	pipe, _ := stream.StdoutPipe()
	var streamErr strings.Builder
	stream.Stderr = &streamErr
	if err := stream.Start(); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(pipe)
	for i := 0; i < 2; i++ {
		ev = statsEvent{}
		if err := dec.Decode(&ev); err != nil || ev.Type != "stats" {
			t.Fatalf("event %d: %v %+v", i, err, ev)
		}
	}
	e.must("kill", "u", "KILL")
	done := make(chan error, 1)
	go func() {
		for dec.Decode(&ev) == nil {
		}
		done <- stream.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("events stream ended with %v: %s", err, streamErr.String())
		}
	case <-time.After(10 * time.Second):
		stream.Process.Kill()
		t.Fatal("events stream did not end when the container stopped")
	}

	// Bad input changes nothing; a stopped container cannot be updated.
	e.waitStatus("u", specs.StateStopped)
	e.mustFail(t, "--memory", "update", "--memory", "lots", "u")
	e.mustFail(t, "container not running", "update", "--pids-limit", "9", "u")
	e.mustFail(t, "container not running", "events", "--stats", "u")
	e.mustFail(t, "container does not exist", "update", "--pids-limit", "9", "nosuch")
	e.must("delete", "u")
	e.noLeftovers("u")
}

func TestPidfdSocket(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(e.dir, "pidfd.sock")
	got := pidfdListener(t, path)
	// pidOf reads which process a received pidfd refers to.
	pidOf := func(fd int) int {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", fd))
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "Pid:"); ok {
				n, _ := strconv.Atoi(strings.TrimSpace(v))
				return n
			}
		}
		return -1
	}
	receive := func() int {
		select {
		case fd := <-got:
			if fd < 0 {
				t.Fatal("no pidfd received")
			}
			return fd
		case <-time.After(5 * time.Second):
			t.Fatal("no pidfd received")
		}
		return -1
	}
	b := e.bundle("b", "strict", sleeper)
	e.must("create", "--bundle", b, "--pidfd-socket", path, "p")
	fd := receive()
	defer unix.Close(fd)
	if p := pidOf(fd); p != e.state("p").Pid {
		t.Fatalf("pidfd refers to %d, init is %d", p, e.state("p").Pid)
	}
	e.must("start", "p")
	pidFile := filepath.Join(e.dir, "exec.pid")
	e.must("exec", "-d", "--pid-file", pidFile, "--pidfd-socket", path, "p", "sleep", "100")
	xfd := receive()
	defer unix.Close(xfd)
	data, _ := os.ReadFile(pidFile)
	if p := pidOf(xfd); strconv.Itoa(p) != strings.TrimSpace(string(data)) {
		t.Fatalf("exec pidfd refers to %d, pid file says %s", p, data)
	}
	// The pidfd signals the container's init.
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil {
		t.Fatal(err)
	}
	e.waitStatus("p", specs.StateStopped)
	e.must("delete", "p")
	e.noLeftovers("p")

	e.mustFail(t, "--pidfd-socket", "create", "--bundle", b, "--pidfd-socket", filepath.Join(e.dir, "none.sock"), "q")
	e.noLeftovers("q")
}
