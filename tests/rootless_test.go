package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// rootless is an unprivileged host user with a subordinate id range, and
// an env whose state root is that user's default one.
type rootless struct {
	*env
	name     string
	uid, gid int
	subStart int // first id of the user's /etc/subuid and /etc/subgid range
	xdg      string
	// env is added to the user's environment (and wins over the
	// defaults): the user's systemd session, say.
	extraEnv []string
}

const subSize = 65536

// newRootless creates a user with a subordinate id range of its own (and
// removes both when the test ends). The state root is the default one,
// $XDG_RUNTIME_DIR/rung, in a runtime directory the user owns.
func newRootless(t *testing.T) *rootless {
	t.Helper()
	if _, err := exec.LookPath("newuidmap"); err != nil {
		t.Fatal("newuidmap missing: apt-get install uidmap (make deps does)")
	}
	name := fmt.Sprintf("rungrl%d", os.Getpid()%100000)
	if out, err := exec.Command("useradd", "-M", "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0", "-s", "/bin/sh", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("userdel", name).Run() })
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	// A range of its own, away from the others' (the pid keeps concurrent
	// test runs apart).
	start := 1000000 + (os.Getpid()%1000)*subSize
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		addSubIDs(t, f, fmt.Sprintf("%s:%d:%d\n", name, start, subSize))
	}
	e := newEnv(t)
	xdg := filepath.Join(e.dir, "xdg")
	if err := os.Mkdir(xdg, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(xdg, uid, gid); err != nil {
		t.Fatal(err)
	}
	e.root = filepath.Join(xdg, "rung")
	return &rootless{env: e, name: name, uid: uid, gid: gid, subStart: start, xdg: xdg}
}

// addSubIDs appends line to a subordinate id file and takes it out again
// when the test ends.
func addSubIDs(t *testing.T, file, line string) {
	t.Helper()
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString(line)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		data, _ := os.ReadFile(file)
		os.WriteFile(file, []byte(strings.Replace(string(data), line, "", 1)), 0o644)
	})
}

// cmd is name run as the user, with its own HOME and XDG_RUNTIME_DIR.
func (r *rootless) cmd(name string, args ...string) *exec.Cmd {
	c := exec.Command(name, args...)
	c.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + r.xdg, "XDG_RUNTIME_DIR=" + r.xdg, "USER=" + r.name}, r.extraEnv...)
	c.Dir = r.xdg
	c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(r.uid), Gid: uint32(r.gid), Groups: []uint32{}}}
	return c
}

// as runs rung as the user, with the default state root.
func (r *rootless) as(args ...string) result {
	r.t.Helper()
	return run(r.cmd(rungBin, args...))
}

func (r *rootless) mustAs(args ...string) result {
	r.t.Helper()
	res := r.as(args...)
	if res.code != 0 {
		r.t.Fatalf("rung %s (as %s): exit %d: %s", strings.Join(args, " "), r.name, res.code, res.stderr)
	}
	return res
}

// bundle is a busybox bundle with the config `rung spec --rootless`
// writes as the user, changed by edit. The user owns the bundle
// directory; the rootfs stays root's and readable.
func (r *rootless) bundle(name string, edit func(s *specs.Spec)) string {
	r.t.Helper()
	b := r.env.bundle(name, "", nil)
	os.Remove(filepath.Join(b, "config.json"))
	os.Chown(b, r.uid, r.gid)
	r.mustAs("spec", "--rootless", "--bundle", b)
	r.editSpec(b, func(s *specs.Spec) {
		s.Process.Terminal = false
		s.Process.Env = append(s.Process.Env, markerVar+"="+r.dir)
		if edit != nil {
			edit(s)
		}
	})
	return b
}

func (r *rootless) state(id string) state {
	r.t.Helper()
	res := r.mustAs("state", id)
	var s state
	if err := json.Unmarshal([]byte(res.stdout), &s); err != nil {
		r.t.Fatalf("state JSON: %v: %q", err, res.stdout)
	}
	return s
}

// TestRootlessSpec: `rung spec --rootless` as a user is runc's rootless
// template for that user, field by field (ociVersion and the hostname
// differ on purpose, as for `rung spec`).
func TestRootlessSpec(t *testing.T) {
	r := newRootless(t)
	for _, rt := range []string{rungBin, "runc"} {
		dir := filepath.Join(r.dir, filepath.Base(rt)+"-spec")
		os.Mkdir(dir, 0o755)
		os.Chown(dir, r.uid, r.gid)
		if res := run(r.cmd(rt, "spec", "--rootless", "--bundle", dir)); res.code != 0 {
			t.Fatalf("%s spec --rootless: %s", rt, res.stderr)
		}
	}
	read := func(p string) map[string]any {
		var m map[string]any
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "ociVersion")
		delete(m, "hostname")
		return m
	}
	got, want := read(filepath.Join(r.dir, "rung-spec/config.json")), read(filepath.Join(r.dir, "runc-spec/config.json"))
	g, _ := json.MarshalIndent(got, "", " ")
	w, _ := json.MarshalIndent(want, "", " ")
	if string(g) != string(w) {
		t.Fatalf("rung spec --rootless:\n%s\nrunc spec --rootless:\n%s", g, w)
	}
	if !strings.Contains(string(g), fmt.Sprintf(`"hostID": %d`, r.uid)) {
		t.Fatalf("mapping is not the caller's uid %d:\n%s", r.uid, g)
	}
}

// TestRootlessLifecycle: create, start, state, exec, ps, kill, delete and
// run as an unprivileged user, with the state under $XDG_RUNTIME_DIR/rung.
func TestRootlessLifecycle(t *testing.T) {
	r := newRootless(t)
	b := r.bundle("b", func(s *specs.Spec) {
		s.Process.Args = []string{"sleep", "1000"}
	})
	r.mustAs("create", "--bundle", b, "rl-c1")
	if fi, err := os.Stat(filepath.Join(r.xdg, "rung", "rl-c1")); err != nil || fi.Sys().(*syscall.Stat_t).Uid != uint32(r.uid) {
		t.Fatalf("state directory not the user's under $XDG_RUNTIME_DIR/rung: %v", err)
	}
	if st := r.state("rl-c1"); st.Status != specs.StateCreated {
		t.Fatalf("status %s", st.Status)
	}
	r.mustAs("start", "rl-c1")
	st := r.state("rl-c1")
	if st.Status != specs.StateRunning || !st.Isolation.Verified || !contains(st.Isolation.Namespaces, "user") {
		t.Fatalf("state %+v", st)
	}
	// The container's root is the user on the host, not root.
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", st.Pid))
	if err != nil || !strings.Contains(string(data), fmt.Sprintf("\nUid:\t%d\t%d", r.uid, r.uid)) {
		t.Fatalf("init's host uid is not %d: %v", r.uid, err)
	}
	out := r.mustAs("exec", "rl-c1", "sh", "-c", "id -u; cat /proc/self/uid_map; cat /proc/self/setgroups").stdout
	if f := strings.Fields(out); len(f) != 5 || f[0] != "0" || f[1] != "0" || f[2] != strconv.Itoa(r.uid) || f[3] != "1" || f[4] != "deny" {
		t.Fatalf("exec: %q", out)
	}
	if res := r.mustAs("verify", "rl-c1"); !strings.Contains(res.stdout, "user") {
		t.Fatalf("verify: %s", res.stdout)
	}
	r.mustAs("exec", "-d", "rl-c1", "sleep", "999")
	ps := r.mustAs("ps", "rl-c1").stdout
	if !strings.Contains(ps, "sleep 1000") || !strings.Contains(ps, "sleep 999") {
		t.Fatalf("ps:\n%s", ps)
	}
	if !strings.Contains(r.mustAs("list").stdout, "rl-c1") {
		t.Fatal("list does not show c1")
	}
	// No cgroup was delegated here: what needs one says so.
	for _, args := range [][]string{{"pause", "rl-c1"}, {"update", "--memory", "10M", "rl-c1"}, {"events", "--stats", "rl-c1"}} {
		failed(t, args[0], r.as(args...), "no cgroup")
	}
	r.mustAs("kill", "rl-c1", "KILL")
	deadline := time.Now().Add(5 * time.Second)
	for r.state("rl-c1").Status != specs.StateStopped {
		if time.Now().After(deadline) {
			t.Fatal("c1 did not stop")
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.mustAs("delete", "rl-c1")
	r.noLeftovers("rl-c1")

	b2 := r.bundle("b2", func(s *specs.Spec) {
		s.Process.Args = []string{"sh", "-c", "id -u; exit 3"}
	})
	res := r.as("run", "--bundle", b2, "rl-c2")
	if res.code != 3 || strings.TrimSpace(res.stdout) != "0" {
		t.Fatalf("run: exit %d %q %s", res.code, res.stdout, res.stderr)
	}
	r.noLeftovers("rl-c2")
}

// TestRootlessSubordinateMappings: a config with several mappings, the
// caller's own ids and its subordinate range, goes through
// newuidmap/newgidmap; a process as container uid 1000 is the range's
// id on the host, and exec joins it.
func TestRootlessSubordinateMappings(t *testing.T) {
	r := newRootless(t)
	b := r.bundle("b", func(s *specs.Spec) {
		s.Process.Args = []string{"sleep", "1000"}
		s.Process.User = specs.User{UID: 1000, GID: 1000}
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(r.uid), Size: 1}, {ContainerID: 1, HostID: uint32(r.subStart), Size: subSize}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(r.gid), Size: 1}, {ContainerID: 1, HostID: uint32(r.subStart), Size: subSize}}
	})
	r.mustAs("run", "-d", "--bundle", b, "rl-m")
	st := r.state("rl-m")
	if !st.Isolation.Verified || !contains(st.Isolation.Namespaces, "user") {
		t.Fatalf("state %+v", st)
	}
	host := r.subStart + 999
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", st.Pid))
	if err != nil || !strings.Contains(string(data), fmt.Sprintf("\nUid:\t%d\t%d", host, host)) || !strings.Contains(string(data), fmt.Sprintf("\nGid:\t%d\t%d", host, host)) {
		t.Fatalf("container uid 1000 is not host id %d: %v\n%s", host, err, data)
	}
	out := r.mustAs("exec", "--user", "1:1", "rl-m", "sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/setgroups").stdout
	want := fmt.Sprintf("1 0 %d 1 1 %d %d allow", r.uid, r.subStart, subSize)
	if got := strings.Join(strings.Fields(out), " "); got != want {
		t.Fatalf("exec: %q, want %q", got, want)
	}
	r.mustAs("delete", "-f", "rl-m")
	r.noLeftovers("rl-m")
}

// TestRootlessBesideRunc: the same bundles run as the same user by runc
// and by rung show the same ids, mappings and setgroups inside, and exit
// alike.
func TestRootlessBesideRunc(t *testing.T) {
	r := newRootless(t)
	script := "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; exit 7"
	for _, tc := range []struct {
		name string
		edit func(s *specs.Spec)
	}{
		{"single", nil},
		{"subordinate", func(s *specs.Spec) {
			s.Process.User = specs.User{UID: 1000, GID: 1000}
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(r.uid), Size: 1}, {ContainerID: 1, HostID: uint32(r.subStart), Size: subSize}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(r.gid), Size: 1}, {ContainerID: 1, HostID: uint32(r.subStart), Size: subSize}}
		}},
	} {
		b := r.bundle(tc.name, func(s *specs.Spec) {
			s.Process.Args = []string{"sh", "-c", script}
			if tc.edit != nil {
				tc.edit(s)
			}
		})
		var outs [2]result
		for i, rt := range []string{"runc", rungBin} {
			outs[i] = run(r.cmd(rt, "run", "--bundle", b, "rl-"+tc.name))
		}
		if outs[0].code != 7 || outs[1].code != outs[0].code || outs[1].stdout != outs[0].stdout {
			t.Errorf("%s: runc exit %d:\n%s%s\nrung exit %d:\n%s%s", tc.name, outs[0].code, outs[0].stdout, outs[0].stderr, outs[1].code, outs[1].stdout, outs[1].stderr)
		}
		r.noLeftovers("rl-" + tc.name)
	}
}

// TestRootlessTerminal: a terminal through a console socket, as the user.
func TestRootlessTerminal(t *testing.T) {
	r := newRootless(t)
	sockDir := filepath.Join(r.dir, "sock")
	os.Mkdir(sockDir, 0o755)
	os.Chown(sockDir, r.uid, r.gid)
	sock, masters := consoleSocket(t, sockDir)
	os.Chown(sock, r.uid, r.gid)
	b := r.bundle("b", func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.Args = []string{"sh", "-c", "tty; echo end; sleep 100"}
	})
	r.mustAs("create", "--bundle", b, "--console-socket", sock, "rl-tty")
	var master *os.File
	select {
	case master = <-masters:
	case <-time.After(5 * time.Second):
		t.Fatal("no pty master received")
	}
	if master == nil {
		t.Fatal("no pty master received")
	}
	defer master.Close()
	r.mustAs("start", "rl-tty")
	var out strings.Builder
	buf := make([]byte, 4096)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "end") && time.Now().Before(deadline) {
		master.SetReadDeadline(time.Now().Add(time.Second))
		n, _ := master.Read(buf)
		out.Write(buf[:n])
	}
	if got := strings.ReplaceAll(out.String(), "\r", ""); !strings.HasPrefix(got, "/dev/pts/0\nend") {
		t.Fatalf("terminal output %q", got)
	}
	// exec -t: a second pty of the container's devpts, through a socket.
	sockDir2 := filepath.Join(r.dir, "sock2")
	os.Mkdir(sockDir2, 0o755)
	os.Chown(sockDir2, r.uid, r.gid)
	sock2, masters2 := consoleSocket(t, sockDir2)
	os.Chown(sock2, r.uid, r.gid)
	r.mustAs("exec", "-t", "-d", "--console-socket", sock2, "rl-tty", "sh", "-c", "tty; echo done; sleep 100")
	select {
	case master = <-masters2:
	case <-time.After(5 * time.Second):
		t.Fatal("no pty master received for exec")
	}
	if master == nil {
		t.Fatal("no pty master received for exec")
	}
	defer master.Close()
	out.Reset()
	deadline = time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "done") && time.Now().Before(deadline) {
		master.SetReadDeadline(time.Now().Add(time.Second))
		n, _ := master.Read(buf)
		out.Write(buf[:n])
	}
	if got := strings.ReplaceAll(out.String(), "\r", ""); !strings.HasPrefix(got, "/dev/pts/1\ndone") {
		t.Fatalf("exec terminal output %q", got)
	}
	r.mustAs("delete", "-f", "rl-tty")
	r.noLeftovers("rl-tty")
}

// TestRootlessBadInput: what a rootless caller may not have fails with one
// clear error naming the cause, and leaves nothing behind.
func TestRootlessBadInput(t *testing.T) {
	r := newRootless(t)
	for _, tc := range []struct {
		name string
		edit func(s *specs.Spec)
		want string
	}{
		{"limits without a cgroup", func(s *specs.Spec) {
			limit := int64(64 << 20)
			s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
		}, rootlessLimitsError()},
		{"no user namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = s.Linux.Namespaces[:len(s.Linux.Namespaces)-1]
			s.Linux.UIDMappings, s.Linux.GIDMappings = nil, nil
		}, "rootless container requires user namespaces"},
		{"host root mapped", func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 1}}
		}, "linux.uidMappings[0]: host ids 0-0 are not the caller's"},
		{"range beyond the subordinate ids", func(s *specs.Spec) {
			s.Linux.GIDMappings = append(s.Linux.GIDMappings, specs.LinuxIDMapping{ContainerID: 1, HostID: uint32(r.subStart), Size: subSize + 1})
		}, fmt.Sprintf("linux.gidMappings[1]: host ids %d-%d are not the caller's", r.subStart, r.subStart+subSize)},
		{"overlapping mappings", func(s *specs.Spec) {
			// Owned, but the kernel refuses it: newuidmap fails after the
			// clone, and the cloned init must not stay behind.
			s.Linux.UIDMappings = append(s.Linux.UIDMappings, specs.LinuxIDMapping{ContainerID: 0, HostID: uint32(r.subStart), Size: 10})
		}, "linux.uidMappings: newuidmap"},
		{"additional groups", func(s *specs.Spec) {
			s.Process.User.AdditionalGids = []uint32{0}
		}, "process.user.additionalGids: cannot set additional groups"},
	} {
		id := "rl-" + strings.ReplaceAll(tc.name, " ", "-")
		b := r.bundle(id, tc.edit)
		res := r.as("run", "--bundle", b, id)
		failed(t, tc.name, res, tc.want)
		r.noLeftovers(id)
	}
	// The state root as runc picks it: /run/rung without
	// $XDG_RUNTIME_DIR, and a runtime directory the user cannot write.
	// Root's /run/rung (0700) is there on any host where root ran rung;
	// a fresh guest may not have it yet.
	if _, err := os.Stat("/run/rung"); os.IsNotExist(err) {
		if err := os.Mkdir("/run/rung", 0o700); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove("/run/rung") })
	}
	for _, tc := range []struct{ xdg, want string }{
		{"", "open /run/rung: permission denied"},
		{"/proc/rung-no-such-dir", "the path in $XDG_RUNTIME_DIR must be writable by the user"},
	} {
		c := r.cmd(rungBin, "list")
		c.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + r.xdg}
		if tc.xdg != "" {
			c.Env = append(c.Env, "XDG_RUNTIME_DIR="+tc.xdg)
		}
		failed(t, fmt.Sprintf("list with XDG_RUNTIME_DIR=%q", tc.xdg), run(c), tc.want)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// rootlessLimitsError is what runc and rung say of limits a rootless
// caller has no cgroup for: on v1 when the limit is set, on v2 (the
// cgroups library's fs2 manager) already when the cgroup is made.
func rootlessLimitsError() string {
	if cgroupV2() {
		return "rootless needs no limits + no cgrouppath when no permission is granted for cgroups"
	}
	return "cannot set memory limit: container could not join or create cgroup"
}
