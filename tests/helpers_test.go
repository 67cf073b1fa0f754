// Package tests drives the built rung binary as root through whole
// container lifecycles on a real busybox bundle, and checks from inside
// (with the static probe in tests/probe) and from outside (state JSON,
// pid files, exit codes, leftovers).
package tests

import (
	"bytes"
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

	"github.com/rungrt/rung/tests/fixture"
)

var (
	rungBin   string // the binary under test
	probeBin  string
	rootfsTpl string // a busybox rootfs, copied per bundle
	// globalFlags go before the command in every rung call the tests make
	// on a container (RUNG_TEST_GLOBAL_FLAGS, e.g. "--systemd-cgroup"), so
	// the whole suite can run under another cgroup manager.
	globalFlags []string
)

// Environment overrides, for a precompiled tests.test run where there is
// no Go toolchain (the VM in tests/vm): the rung binary and the static
// probe to use instead of building them, and extra global flags.
const (
	envBinary      = "RUNG_TEST_BINARY"
	envProbe       = "RUNG_TEST_PROBE"
	envGlobalFlags = "RUNG_TEST_GLOBAL_FLAGS"
)

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "tests: the integration tests run as root (they create namespaces and mounts)")
		os.Exit(1)
	}
	work, err := os.MkdirTemp("", "rung-tests-")
	if err != nil {
		panic(err)
	}
	os.Chmod(work, 0o755) // user-namespace tests traverse it as a mapped uid
	code := func() int {
		if err := setup(work); err != nil {
			fmt.Fprintln(os.Stderr, "tests: setup:", err)
			return 1
		}
		return m.Run()
	}()
	os.RemoveAll(work)
	os.Exit(code)
}

func setup(work string) error {
	globalFlags = strings.Fields(os.Getenv(envGlobalFlags))
	var err error
	if rungBin, err = prebuilt(envBinary); err != nil {
		return err
	}
	if rungBin == "" {
		rungBin = filepath.Join(work, "rung")
		if out, err := exec.Command("go", append(append([]string{"build"}, fixture.RungBuildFlags...), "-o", rungBin, "..")...).CombinedOutput(); err != nil {
			return fmt.Errorf("build rung: %v\n%s", err, out)
		}
	}
	if probeBin, err = prebuilt(envProbe); err != nil {
		return err
	}
	if probeBin == "" {
		probeBin = filepath.Join(work, "probe")
		build := exec.Command("go", "build", "-tags", "netgo osusergo", "-o", probeBin, "./probe")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("build probe: %v\n%s", err, out)
		}
	}
	rootfsTpl = filepath.Join(work, "rootfs")
	return fixture.Rootfs(rootfsTpl, map[string]string{"bin/probe": probeBin})
}

// prebuilt returns the absolute path of the binary named by the
// environment variable, "" when it is unset; a named binary that is not
// there is an error, not a silent fallback to building one.
func prebuilt(name string) (string, error) {
	p := os.Getenv(name)
	if p == "" {
		return "", nil
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return abs, nil
}

// rungArgs is a rung command line: the global flags, then args.
func rungArgs(args ...string) []string {
	return append(append([]string{}, globalFlags...), args...)
}

// env is one test's private world: a state root and its bundles.
type env struct {
	t    *testing.T
	dir  string
	root string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir, err := os.MkdirTemp("", "rung-test-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	e := &env{t: t, dir: dir, root: filepath.Join(dir, "state")}
	t.Cleanup(func() {
		// Tear down what a failing test left, then insist there was nothing.
		out, _ := exec.Command(rungBin, rungArgs("--root", e.root, "list", "-q")...).Output()
		for _, id := range strings.Fields(string(out)) {
			exec.Command(rungBin, rungArgs("--root", e.root, "delete", "--force", id)...).Run()
		}
		os.RemoveAll(dir)
	})
	return e
}

// bundle makes a bundle with the rung spec template at rung r (runc's
// default template when r is ""), changed by edit. It returns the bundle
// directory.
func (e *env) bundle(name, rung string, edit func(s *specs.Spec)) string {
	e.t.Helper()
	b := filepath.Join(e.dir, name)
	if err := os.MkdirAll(b, 0o755); err != nil {
		e.t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", rootfsTpl, filepath.Join(b, "rootfs")).CombinedOutput(); err != nil {
		e.t.Fatalf("copy rootfs: %v %s", err, out)
	}
	args := []string{"spec", "--bundle", b}
	if rung != "" {
		args = append(args, "--isolation", rung)
	}
	if r := e.rung(args...); r.code != 0 {
		e.t.Fatalf("rung spec: %s", r.stderr)
	}
	e.editSpec(b, func(s *specs.Spec) {
		// The template asks for a terminal, as runc's does; the tests run
		// on plain stdio unless they ask for one.
		s.Process.Terminal = false
		s.Process.Env = append(s.Process.Env, markerVar+"="+e.dir)
		if edit != nil {
			edit(s)
		}
	})
	return b
}

func (e *env) editSpec(bundle string, edit func(s *specs.Spec)) {
	e.t.Helper()
	p := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(p)
	if err != nil {
		e.t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		e.t.Fatal(err)
	}
	if edit != nil {
		edit(&s)
	}
	data, _ = json.MarshalIndent(&s, "", "  ")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		e.t.Fatal(err)
	}
}

type result struct {
	stdout, stderr string
	code           int
}

// rung runs the binary with this env's --root.
func (e *env) rung(args ...string) result {
	e.t.Helper()
	return run(exec.Command(rungBin, rungArgs(append([]string{"--root", e.root}, args...)...)...))
}

// run captures output through files, not pipes: a detached container
// inherits rung's stdout and stderr, and a pipe would keep the test
// waiting until the container exits.
func run(cmd *exec.Cmd) result {
	out, _ := os.CreateTemp("", "rung-out-")
	errf, _ := os.CreateTemp("", "rung-err-")
	defer os.Remove(out.Name())
	defer os.Remove(errf.Name())
	defer out.Close()
	defer errf.Close()
	cmd.Stdout, cmd.Stderr = out, errf
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
	}
	o, _ := os.ReadFile(out.Name())
	e, _ := os.ReadFile(errf.Name())
	if code == -1 {
		e = append(e, err.Error()...)
	}
	return result{string(o), string(e), code}
}

// must fails the test unless r succeeded.
func (e *env) must(args ...string) result {
	e.t.Helper()
	r := e.rung(args...)
	if r.code != 0 {
		e.t.Fatalf("rung %s: exit %d: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r
}

// failed reports, with t.Errorf, unless r is a failure: a non-zero exit
// whose stderr holds every one of wants. It says whether r was one, so a
// caller that cannot go on after it can stop (t.FailNow).
func failed(t testing.TB, what string, r result, wants ...string) bool {
	t.Helper()
	ok := r.code != 0
	for _, w := range wants {
		ok = ok && strings.Contains(r.stderr, w)
	}
	if !ok {
		t.Errorf("%s: exit %d, stderr %q; want a failure with %q", what, r.code, r.stderr, wants)
	}
	return ok
}

// mustFail runs rung and stops the test unless the command fails with
// want in its stderr. It returns the result for further checks.
func (e *env) mustFail(t testing.TB, want string, args ...string) result {
	t.Helper()
	r := e.rung(args...)
	if !failed(t, "rung "+strings.Join(args, " "), r, want) {
		t.FailNow()
	}
	return r
}

type state struct {
	Version     string               `json:"ociVersion"`
	ID          string               `json:"id"`
	Status      specs.ContainerState `json:"status"`
	Pid         int                  `json:"pid"`
	Bundle      string               `json:"bundle"`
	Rootfs      string               `json:"rootfs"`
	Created     string               `json:"created"`
	Owner       string               `json:"owner"`
	Annotations map[string]string    `json:"annotations"`
	Isolation   struct {
		Rung       string   `json:"rung"`
		Namespaces []string `json:"namespaces"`
		Extras     []string `json:"extras"`
		Joined     []string `json:"joined"`
		Verified   bool     `json:"verified"`
	} `json:"isolation"`
}

func (e *env) state(id string) state {
	e.t.Helper()
	r := e.must("state", id)
	var s state
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		e.t.Fatalf("state JSON: %v: %q", err, r.stdout)
	}
	return s
}

// waitStatus polls state until it reads want.
func (e *env) waitStatus(id string, want specs.ContainerState) state {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := e.state(id)
		if s.Status == want {
			return s
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("container %s: status %s, want %s", id, s.Status, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// probeReport is tests/probe's output.
type probeReport struct {
	Pid          int                  `json:"pid"`
	UID          int                  `json:"uid"`
	GID          int                  `json:"gid"`
	Groups       []int                `json:"groups"`
	Cwd          string               `json:"cwd"`
	Hostname     string               `json:"hostname"`
	Namespaces   map[string]string    `json:"namespaces"`
	Status       map[string]string    `json:"status"`
	Rlimits      map[string][2]uint64 `json:"Rlimits"`
	Umask        int                  `json:"umask"`
	RootWritable bool                 `json:"rootWritable"`
	Fds          []string             `json:"fds"`
	UIDMap       string               `json:"uidMap"`
}

// probe runs the probe as the container process in the foreground and
// returns its report.
func (e *env) probe(rung string, edit func(s *specs.Spec)) probeReport {
	e.t.Helper()
	b := e.bundle("probe", rung, func(s *specs.Spec) {
		s.Process.Args = []string{"/bin/probe"}
		// Keep the probe's Go runtime from opening cgroup files of its own.
		s.Process.Env = append(s.Process.Env, "GODEBUG=containermaxprocs=0,updatemaxprocs=0")
		if edit != nil {
			edit(s)
		}
	})
	r := e.rung("run", "--bundle", b, "probe")
	if r.code != 0 {
		e.t.Fatalf("run probe: exit %d: %s", r.code, r.stderr)
	}
	var p probeReport
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		e.t.Fatalf("probe output: %v: %q", err, r.stdout)
	}
	return p
}

// hostNS reads the test process' own namespace links.
func hostNS(t *testing.T) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, ns := range []string{"mnt", "pid", "net", "ipc", "uts", "user", "cgroup", "time"} {
		l, err := os.Readlink("/proc/self/ns/" + ns)
		if err != nil {
			t.Fatal(err)
		}
		m[ns] = l
	}
	return m
}

// noLeftovers checks that nothing of container id remains: no state
// directory, no mount under the env's directory, no process of the env.
func (e *env) noLeftovers(id string) {
	e.t.Helper()
	if _, err := os.Stat(filepath.Join(e.root, id)); !os.IsNotExist(err) {
		e.t.Errorf("state directory of %s left behind (%v)", id, err)
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		e.t.Fatal(err)
	}
	if strings.Contains(string(mi), e.dir) {
		e.t.Errorf("mount under %s left on the host", e.dir)
	}
	if pids := e.processes(); len(pids) > 0 {
		e.t.Errorf("processes of the test left: %v", pids)
	}
	for _, dir := range cgroupDirs(id) {
		if _, err := os.Stat(dir); err == nil {
			e.t.Errorf("cgroup %s left behind", dir)
		}
	}
}

// cgroupV2 reports whether the host has a pure cgroup v2 hierarchy (as
// Debian 12 with systemd does, in tests/vm) rather than v1 hierarchies.
func cgroupV2() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// controllerDir is where container id's default cgroup for a v1
// controller is: that controller's hierarchy on v1, the one unified
// hierarchy on v2. "" when there is none.
func controllerDir(id, controller string) string {
	for _, d := range cgroupDirs(id) {
		if cgroupV2() || strings.HasPrefix(d, "/sys/fs/cgroup/"+controller+"/") {
			return d
		}
	}
	return ""
}

// systemdManager: the suite runs under the systemd cgroup manager
// (RUNG_TEST_GLOBAL_FLAGS has --systemd-cgroup or --cgroup-manager systemd).
func systemdManager() bool {
	for i, f := range globalFlags {
		if f == "--systemd-cgroup" || f == "--cgroup-manager=systemd" || f == "--cgroup-manager" && i+1 < len(globalFlags) && globalFlags[i+1] == "systemd" {
			return true
		}
	}
	return false
}

// testCgroupsPath is a cgroupsPath for name in the form the suite's cgroup
// manager takes: a path for cgroupfs, "slice:prefix:name" for systemd.
func testCgroupsPath(name string) string {
	if systemdManager() {
		return "system.slice:rungtest:" + name
	}
	return name
}

// cgroupDirs lists where container id's default cgroup (named after it,
// under the test's own cgroup on v1, beside it on v2) would be in each
// hierarchy.
func cgroupDirs(id string) []string {
	if systemdManager() {
		// runc's default unit under systemd: <prefix>-<id>.scope in
		// system.slice (the v2 hierarchy only: the VM's).
		return []string{"/sys/fs/cgroup/system.slice/rung-" + id + ".scope"}
	}
	data, _ := os.ReadFile("/proc/self/cgroup")
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		name := strings.TrimPrefix(parts[1], "name=")
		if name == "" {
			name = "unified"
		}
		if strings.Contains(name, ",") {
			name = strings.Split(name, ",")[0]
		}
		mnt := filepath.Join("/sys/fs/cgroup", name)
		if _, err := os.Stat(mnt); err != nil {
			if parts[1] != "" {
				continue
			}
			mnt = "/sys/fs/cgroup"
		}
		own := parts[2]
		if cgroupV2() {
			// On v2 the library puts it beside the caller's cgroup, not in
			// it: a cgroup holding processes cannot enable controllers for
			// its children (as runc does).
			own = filepath.Dir(own)
		}
		out = append(out, filepath.Join(mnt, own, id))
	}
	return out
}

// processes lists live host pids that belong to this env: container
// processes carry its marker in their environment (every bundle sets it),
// and an init still waiting for start holds exec.fifo under its root.
func (e *env) processes() []int {
	entries, _ := os.ReadDir("/proc")
	marker := []byte(markerVar + "=" + e.dir + "\x00")
	var out []int
	for _, en := range entries {
		pid, err := strconv.Atoi(en.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		base := "/proc/" + en.Name()
		if stat, err := os.ReadFile(base + "/stat"); err != nil || bytes.Contains(stat, []byte(") Z ")) {
			continue // gone, or exited and waiting to be reaped: holds nothing
		}
		if environ, err := os.ReadFile(base + "/environ"); err == nil && bytes.Contains(environ, marker) {
			out = append(out, pid)
			continue
		}
		fds, _ := os.ReadDir(base + "/fd")
		for _, fd := range fds {
			if l, err := os.Readlink(base + "/fd/" + fd.Name()); err == nil && strings.HasPrefix(l, e.root) {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

// markerVar tags every test container's environment with its env.
const markerVar = "RUNG_TEST_ENV"

var execCommand = exec.Command

// waitFile waits for a file the container writes.
func waitFile(t *testing.T, p string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(p); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", p)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitLines waits until file p has at least n lines.
func waitLines(t *testing.T, p string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, _ := os.ReadFile(p)
		if strings.Count(string(data), "\n") >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q, want %d lines", p, data, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hasSysResource reports whether the test runs with CAP_SYS_RESOURCE
// (bit 24), which lets any rlimit be raised.
func hasSysResource() bool {
	data, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return n&(1<<24) != 0
		}
	}
	return false
}
