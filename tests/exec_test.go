package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestExecInsideContainer(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "strict", func(s *specs.Spec) { sleeper(s); s.Hostname = "exec-host" })
	e.must("run", "-d", "--bundle", b, "x")
	r := e.must("exec", "x", "sh", "-c", `id -u; hostname; tr '\0' ' ' < /proc/1/cmdline; echo; awk '$5 == "/"' /proc/self/mountinfo | wc -l; readlink /proc/self/ns/mnt; pwd`)
	pid := e.state("x").Pid
	want := fmt.Sprintf("0\nexec-host\nsleep 1000 \n1\n%s\n/\n", nsOf(t, pid, "mnt"))
	if r.stdout != want {
		t.Fatalf("exec sees:\n%s\nwant:\n%s", r.stdout, want)
	}
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"true"}, 0}, {[]string{"sh", "-c", "exit 3"}, 3}, {[]string{"sh", "-c", "kill -9 $$"}, 137},
	} {
		if r := e.rung(append([]string{"exec", "x"}, tc.args...)...); r.code != tc.want {
			t.Errorf("exec %v: exit %d, want %d (%s)", tc.args, r.code, tc.want, r.stderr)
		}
	}
	r = e.rung("exec", "x", "no-such-command")
	failed(t, "missing command", r, "executable file not found in $PATH")
	// Flags override the container's process.
	r = e.must("exec", "--user", "1000:1001", "--env", "FOO=bar", "--cwd", "/tmp", "x", "sh", "-c", "id -u; id -g; echo $FOO; pwd")
	if r.stdout != "1000\n1001\nbar\n/tmp\n" {
		t.Errorf("exec with --user/--env/--cwd: %q", r.stdout)
	}
	// CVE-2022-29162: --cap never reaches the inheritable set.
	r = e.must("exec", "--cap", "CAP_NET_RAW", "x", "grep", "-E", "CapInh|CapEff", "/proc/self/status")
	if r.stdout != "CapInh:\t0000000000000000\nCapEff:\t0000000020002420\n" {
		t.Errorf("exec --cap CAP_NET_RAW: %q", r.stdout)
	}
	// --process, --detach and --pid-file, as containerd and podman use them.
	proc := specs.Process{Args: []string{"sleep", "1000"}, Cwd: "/", Env: []string{"PATH=/bin"}}
	data, _ := json.Marshal(proc)
	pf := filepath.Join(e.dir, "process.json")
	os.WriteFile(pf, data, 0o644)
	pidFile := filepath.Join(e.dir, "exec.pid")
	e.must("exec", "--process", pf, "--detach", "--pid-file", pidFile, "x")
	raw, _ := os.ReadFile(pidFile)
	execPid, _ := strconv.Atoi(string(raw))
	if cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", execPid)); string(cmd) != "sleep\x001000\x00" {
		t.Fatalf("pid file %q names %q", raw, cmd)
	}
	if nsOf(t, execPid, "pid") != nsOf(t, pid, "pid") || nsOf(t, execPid, "net") != nsOf(t, pid, "net") {
		t.Fatal("detached exec process is not in the container's namespaces")
	}
	cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", execPid))
	initCg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if string(cg) != string(initCg) {
		t.Fatalf("exec process cgroup:\n%s\ninit's:\n%s", cg, initCg)
	}
	e.must("delete", "-f", "x")
	e.noLeftovers("x")
	e.mustFail(t, "container does not exist", "exec", "x", "true")
}

func TestExecStoppedContainer(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "strict", func(s *specs.Spec) { s.Process.Args = []string{"true"} })
	e.must("run", "-d", "--bundle", b, "s")
	e.waitStatus("s", specs.StateStopped)
	e.mustFail(t, "container not running", "exec", "s", "true")
	// Nothing is in effect for a stopped container: verify fails.
	if r := e.rung("verify", "s"); r.code == 0 || !strings.Contains(r.stdout, "problem: container not running") {
		t.Fatalf("verify of a stopped container: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	e.must("delete", "s")
}

func TestExecUserNamespace(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "quantum", sleeper)
	e.must("run", "-d", "--bundle", b, "u")
	r := e.must("exec", "u", "sh", "-c", "id -u; cat /proc/self/uid_map; readlink /proc/self/ns/user")
	want := "0\n         0     100000      65536\n" + nsOf(t, e.state("u").Pid, "user") + "\n"
	if r.stdout != want {
		t.Fatalf("exec in a user namespace:\n%q\nwant\n%q", r.stdout, want)
	}
	e.must("delete", "-f", "u")
}

// CVE-2016-9962: while a container is created, its init holds runtime fds;
// a process exec'd into it without CAP_SYS_PTRACE cannot read them.
func TestExecCannotReadCreatedInitFds(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "strict", sleeper)
	e.must("create", "--bundle", b, "c")
	r := e.rung("exec", "c", "ls", "-l", "/proc/1/fd")
	// The names may show; where they lead must not.
	if strings.Contains(r.stdout, "->") || !strings.Contains(r.stderr, "cannot read link: Permission denied") {
		t.Fatalf("ls -l /proc/1/fd of a created init: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := e.rung("exec", "c", "cat", "/proc/1/fd/4"); r.code == 0 {
		t.Fatal("an exec'd process opened init's exec.fifo fd")
	}
	e.must("delete", "-f", "c")
}

// CVE-2019-5736: a #!/proc/self/exe payload exec'd into the container runs
// the runtime binary from its sealed mount, and cannot rewrite the host's.
func TestExecSelfExePayload(t *testing.T) {
	e := newEnv(t)
	before := sha256File(t, rungBin)
	b := e.bundle("b", "strict", func(s *specs.Spec) { sleeper(s); s.Root.Readonly = false })
	os.WriteFile(filepath.Join(b, "rootfs/evil"), []byte("#!/proc/self/exe\n"), 0o755)
	os.WriteFile(filepath.Join(b, "rootfs/overwrite"), []byte("#!/bin/sh\nfor p in /proc/[0-9]*; do echo pwned >> $p/exe 2>/dev/null && echo WROTE $p; done; true\n"), 0o755)
	e.must("run", "-d", "--bundle", b, "p")
	e.rung("exec", "p", "/evil")
	r := e.rung("exec", "p", "/overwrite")
	if strings.Contains(r.stdout, "WROTE") {
		t.Errorf("a container process wrote an executable: %s", r.stdout)
	}
	e.must("delete", "-f", "p")
	time.Sleep(10 * time.Millisecond)
	if sha256File(t, rungBin) != before {
		t.Fatal("host rung binary changed")
	}
}

// TestPreserveFds: --preserve-fds N hands the caller's fds 3 .. 3+N-1 to
// the container process as 3, 4, ...; the ones beyond N are not handed on.
func TestPreserveFds(t *testing.T) {
	e := newEnv(t)
	files := make([]*os.File, 2)
	for i := range files {
		p := filepath.Join(e.dir, fmt.Sprintf("f%d", i))
		os.WriteFile(p, []byte(fmt.Sprintf("content-%d\n", i)), 0o644)
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files[i] = f
	}
	launch := func(args ...string) result {
		cmd := execCommand(rungBin, rungArgs(append([]string{"--root", e.root}, args...)...)...)
		cmd.ExtraFiles = files // fds 3 and 4 in rung
		return run(cmd)
	}
	b := e.bundle("b", "strict", func(s *specs.Spec) {
		s.Process.Args = []string{"sh", "-c", "cat <&3; ls /proc/self/fd/4 >/dev/null 2>&1 && echo fd4-leaked; true"}
	})
	if r := launch("run", "--preserve-fds", "1", "--bundle", b, "pf"); r.code != 0 || r.stdout != "content-0\n" {
		t.Fatalf("run --preserve-fds 1: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	bd := e.bundle("d", "strict", sleeper)
	e.must("run", "-d", "--bundle", bd, "x")
	files[0].Seek(0, 0) // the offset is shared with the container's reads
	if r := launch("exec", "--preserve-fds", "2", "x", "sh", "-c", "cat <&3; cat <&4"); r.code != 0 || r.stdout != "content-0\ncontent-1\n" {
		t.Fatalf("exec --preserve-fds 2: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	e.must("delete", "-f", "x")
	e.noLeftovers("pf")
}
