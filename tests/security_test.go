package tests

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// CVE-2019-5736: init must not run from a writable view of the host's rung
// binary, or a container process could reopen /proc/1/exe and overwrite it.
func TestInitBinaryIsSealed(t *testing.T) {
	e := newEnv(t)
	before := sha256File(t, rungBin)
	b := e.bundle("b", "strict", sleeper)
	e.must("create", "--bundle", b, "c")
	pid := e.state("c").Pid
	exe := fmt.Sprintf("/proc/%d/exe", pid)
	if target, _ := os.Readlink(exe); target == rungBin {
		t.Errorf("init runs from the host binary path %s", target)
	}
	if f, err := os.OpenFile(exe, os.O_WRONLY, 0); err == nil {
		f.Close()
		t.Fatal("init's executable can be opened for writing")
	}
	e.must("start", "c")
	e.must("delete", "-f", "c")
	if sha256File(t, rungBin) != before {
		t.Fatal("host rung binary changed")
	}
}

func sha256File(t *testing.T, p string) [32]byte {
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

// CVE-2024-21626: a host directory fd leaked by the caller must not reach
// the container, neither as process.cwd=/proc/self/fd/N nor in init's fd
// table while it waits for start.
func TestLeakedHostFdNeverReachesContainer(t *testing.T) {
	e := newEnv(t)
	hostDir := filepath.Join(e.dir, "hostdir")
	os.MkdirAll(hostDir, 0o755)
	leak, err := os.Open(hostDir)
	if err != nil {
		t.Fatal(err)
	}
	defer leak.Close()
	launch := func(args ...string) result {
		cmd := exec.Command(rungBin, rungArgs(append([]string{"--root", e.root}, args...)...)...)
		// ExtraFiles are inherited without close-on-exec, as an engine's
		// stray fd would be: it lands as fd 3 in rung.
		cmd.ExtraFiles = []*os.File{leak}
		return run(cmd)
	}
	b := e.bundle("b", "strict", sleeper)
	if r := launch("create", "--bundle", b, "held"); r.code != 0 {
		t.Fatalf("create: %s", r.stderr)
	}
	pid := e.state("held").Pid
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if strings.HasPrefix(target, hostDir) {
			t.Errorf("init holds the leaked host dir as fd %s", fd.Name())
		}
	}
	e.must("delete", "-f", "held")

	for n := 3; n <= 20; n++ {
		id := "cwd" + strconv.Itoa(n)
		bn := e.bundle(id, "strict", func(s *specs.Spec) {
			s.Process.Cwd = fmt.Sprintf("/proc/self/fd/%d", n)
			s.Process.Args = []string{"sh", "-c", "pwd; ls .."}
		})
		r := launch("run", "--bundle", bn, id)
		if r.code == 0 && (strings.Contains(r.stdout, e.dir) || strings.Contains(r.stdout, "hostdir")) {
			t.Errorf("cwd /proc/self/fd/%d escaped to the host: %q", n, r.stdout)
		}
		e.noLeftovers(id)
	}
}

// CVE-2021-30465 style: a symlink in the rootfs pointing at a host path
// must not redirect a mount onto the host.
func TestMountThroughSymlinkStaysInRootfs(t *testing.T) {
	e := newEnv(t)
	hostDir := filepath.Join(e.dir, "hostdir")
	os.MkdirAll(hostDir, 0o755)
	b := e.bundle("b", "strict", func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data/x", Type: "tmpfs", Source: "tmpfs"})
		s.Process.Args = []string{"true"}
	})
	if err := os.Symlink(hostDir, filepath.Join(b, "rootfs/data")); err != nil {
		t.Fatal(err)
	}
	e.rung("run", "--bundle", b, "sym")
	if entries, _ := os.ReadDir(hostDir); len(entries) != 0 {
		t.Fatalf("host dir written through the rootfs symlink: %v", entries)
	}
	e.noLeftovers("sym")
}

// CVE-2019-19921 / CVE-2023-27561: proc mounted onto a symlink is refused.
func TestProcOnSymlinkRefused(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "strict", sleeper)
	os.Remove(filepath.Join(b, "rootfs/proc"))
	os.MkdirAll(filepath.Join(b, "rootfs/bad"), 0o755)
	os.Symlink("/bad", filepath.Join(b, "rootfs/proc"))
	e.mustFail(t, "symlinks are not allowed", "create", "--bundle", b, "p")
	e.noLeftovers("p")
}

// CVE-2025-31133: masking binds /dev/null; a /dev/null that is a symlink
// to a host file must not be what gets bound.
func TestMaskWithSwappedDevNullRefused(t *testing.T) {
	e := newEnv(t)
	before, _ := os.ReadFile("/proc/sys/kernel/core_pattern")
	b := e.bundle("b", "strict", func(s *specs.Spec) {
		// No /dev tmpfs: the image's own /dev is used as it is.
		var mounts []specs.Mount
		for _, m := range s.Mounts {
			if !strings.HasPrefix(m.Destination, "/dev") {
				mounts = append(mounts, m)
			}
		}
		s.Mounts = mounts
		sleeper(s)
	})
	os.Symlink("/proc/sys/kernel/core_pattern", filepath.Join(b, "rootfs/dev/null"))
	r := e.rung("create", "--bundle", b, "n")
	if r.code == 0 {
		e.rung("delete", "-f", "n")
		t.Fatal("create succeeded with /dev/null swapped for a symlink")
	}
	if !strings.Contains(r.stderr, "/dev/null") {
		t.Errorf("error does not name /dev/null: %s", r.stderr)
	}
	if after, _ := os.ReadFile("/proc/sys/kernel/core_pattern"); string(after) != string(before) {
		t.Fatal("host core_pattern changed")
	}
	e.noLeftovers("n")
}

// /dev as a symlink to a host directory: device setup happens through fds
// rooted in the rootfs, so the host directory stays empty.
func TestDevSymlinkLeavesHostAlone(t *testing.T) {
	e := newEnv(t)
	hostDev := filepath.Join(e.dir, "hostdev")
	os.MkdirAll(hostDev, 0o755)
	b := e.bundle("b", "strict", func(s *specs.Spec) { s.Process.Args = []string{"ls", "/dev"} })
	os.RemoveAll(filepath.Join(b, "rootfs/dev"))
	os.Symlink(hostDev, filepath.Join(b, "rootfs/dev"))
	e.rung("run", "--bundle", b, "d")
	if entries, _ := os.ReadDir(hostDev); len(entries) != 0 {
		t.Fatalf("host dir got /dev entries: %v", entries)
	}
	e.noLeftovers("d")
}

// A stale state file whose pid now belongs to an unrelated process must
// not make kill or delete signal it.
func TestPidReuseRefused(t *testing.T) {
	e := newEnv(t)
	victim := exec.Command("sleep", "1000")
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	defer victim.Process.Kill()
	dir := filepath.Join(e.root, "stale")
	os.MkdirAll(dir, 0o700)
	rec := map[string]any{"id": "stale", "pid": victim.Process.Pid, "startTime": 1, "bundle": e.dir, "rootfs": e.dir,
		"created": "2026-01-01T00:00:00Z", "isolation": map[string]any{}, "pidNamespace": true}
	data, _ := json.Marshal(rec)
	os.WriteFile(filepath.Join(dir, "state.json"), data, 0o600)

	if st := e.state("stale"); st.Status != specs.StateStopped || st.Pid != 0 {
		t.Errorf("stale state reads %s pid %d, want stopped", st.Status, st.Pid)
	}
	failed(t, "kill of a stale container", e.rung("kill", "stale", "KILL"), "container not running")
	e.must("delete", "--force", "stale")
	if err := victim.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("unrelated process was signalled: %v", err)
	}
}
