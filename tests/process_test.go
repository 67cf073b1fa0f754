package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestProcessFromInside checks every process field rung sets against the
// probe's view from inside.
func TestProcessFromInside(t *testing.T) {
	e := newEnv(t)
	umask := uint32(0o027)
	p := e.probe("strict", func(s *specs.Spec) {
		s.Hostname = "probe-host"
		s.Process.Cwd = "/work/dir"
		s.Process.User = specs.User{UID: 1000, GID: 1001, AdditionalGids: []uint32{2000, 2001}, Umask: &umask}
		s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 321, Hard: 654}, {Type: "RLIMIT_CORE", Soft: 0, Hard: 0}}
		caps := []string{"CAP_CHOWN", "CAP_NET_RAW"}
		s.Process.Capabilities = &specs.LinuxCapabilities{
			Bounding: []string{"CAP_CHOWN", "CAP_NET_RAW", "CAP_KILL"}, Effective: caps, Permitted: caps,
			Inheritable: caps, Ambient: caps,
		}
	})
	if p.Hostname != "probe-host" || p.Cwd != "/work/dir" {
		t.Errorf("hostname %q cwd %q", p.Hostname, p.Cwd)
	}
	if p.UID != 1000 || p.GID != 1001 || len(p.Groups) != 2 || p.Groups[0] != 2000 || p.Groups[1] != 2001 {
		t.Errorf("uid %d gid %d groups %v", p.UID, p.GID, p.Groups)
	}
	if p.Umask != 0o027 {
		t.Errorf("umask %o", p.Umask)
	}
	// The probe is a Go program, and Go raises its own soft NOFILE limit
	// to the hard one at start; the soft limit is checked from a shell below.
	if got := p.Rlimits["NOFILE"]; got[1] != 654 {
		t.Errorf("RLIMIT_NOFILE %v", got)
	}
	if got := p.Rlimits["CORE"]; got != [2]uint64{0, 0} {
		t.Errorf("RLIMIT_CORE %v", got)
	}
	// CAP_CHOWN is bit 0, CAP_NET_RAW bit 13, CAP_KILL bit 5.
	want := map[string]string{"CapBnd": "0000000000002021", "CapEff": "0000000000002001", "CapPrm": "0000000000002001",
		"CapInh": "0000000000002001", "CapAmb": "0000000000002001", "NoNewPrivs": "1"}
	for k, v := range want {
		if p.Status[k] != v {
			t.Errorf("%s = %s, want %s", k, p.Status[k], v)
		}
	}
	if p.RootWritable {
		t.Error("root.readonly: the probe could write to /")
	}
	if p.Pid != 1 {
		t.Errorf("pid %d, want 1", p.Pid)
	}
	// Beyond stdio only the probe's own fds: the Go poller and its read
	// of /proc/self/fd. Nothing may lead to a file or directory of rung's.
	for _, fd := range p.Fds[3:] {
		_, target, _ := strings.Cut(fd, "=")
		if !strings.HasPrefix(target, "anon_inode:") && target != "" && !strings.HasPrefix(target, "/proc/") {
			t.Errorf("unexpected fd in the container process: %s (all: %v)", fd, p.Fds)
		}
	}
	if !strings.HasPrefix(p.Fds[0], "0=") || !strings.HasPrefix(p.Fds[2], "2=") {
		t.Errorf("stdio fds: %v", p.Fds)
	}
}

func TestRlimitSoftFromShell(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "strict", func(s *specs.Spec) {
		s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 321, Hard: 654}}
		s.Process.Args = []string{"sh", "-c", "ulimit -Sn; ulimit -Hn"}
	})
	if r := e.must("run", "--bundle", b, "rl"); r.stdout != "321\n654\n" {
		t.Fatalf("ulimit -n soft/hard: %q", r.stdout)
	}
	b = e.bundle("over", "strict", func(s *specs.Spec) {
		// Above the host's hard limit: without CAP_SYS_RESOURCE that is
		// EPERM, and rung must fail rather than run with a lower limit.
		s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1 << 30, Hard: 1 << 30}}
	})
	r := e.rung("run", "--bundle", b, "over")
	if hasSysResource() {
		t.Log("CAP_SYS_RESOURCE present: the over-limit case cannot fail here")
	} else if !failed(t, "rlimit above the hard limit", r, "process.rlimits") {
		t.FailNow()
	}
	e.noLeftovers("over")
}

func TestDefaultCapabilitiesAndWritableRoot(t *testing.T) {
	e := newEnv(t)
	p := e.probe("strict", func(s *specs.Spec) {
		s.Root.Readonly = false
		s.Process.NoNewPrivileges = false
	})
	// runc's defaults: CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE; no
	// ambient without inheritable, as with runc.
	if p.Status["CapEff"] != "0000000020000420" || p.Status["CapBnd"] != "0000000020000420" || p.Status["CapAmb"] != "0000000000000000" {
		t.Errorf("caps %v", p.Status)
	}
	if !p.RootWritable || p.Status["NoNewPrivs"] != "0" {
		t.Errorf("rootWritable %v NoNewPrivs %s", p.RootWritable, p.Status["NoNewPrivs"])
	}
}

func TestNoPivot(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "strict", func(s *specs.Spec) { s.Process.Args = []string{"cat", "/etc/passwd"} })
	r := e.must("run", "--no-pivot", "--bundle", b, "np")
	if !strings.HasPrefix(r.stdout, "root:x:0:0") {
		t.Fatalf("--no-pivot container read %q", r.stdout)
	}
	e.noLeftovers("np")
}

func TestMountsFromConfig(t *testing.T) {
	e := newEnv(t)
	host := filepath.Join(e.dir, "shared")
	os.MkdirAll(host, 0o755)
	os.WriteFile(filepath.Join(host, "f"), []byte("from host"), 0o644)
	b := e.bundle("b", "strict", func(s *specs.Spec) {
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/mnt/ro", Type: "bind", Source: host, Options: []string{"rbind", "ro"}},
			specs.Mount{Destination: "/mnt/rw", Type: "none", Source: host, Options: []string{"bind", "rw", "nosuid"}},
			specs.Mount{Destination: "/scratch", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m", "noexec"}},
		)
		s.Process.Args = []string{"sh", "-c", `cat /mnt/ro/f; echo; touch /mnt/ro/x 2>/dev/null && echo ro-writable; echo written > /mnt/rw/y; grep -E " /(mnt/r[ow]|scratch) " /proc/self/mountinfo | awk '{print $5, $6}'; cat /proc/mounts | grep -c " /proc/sys proc ro"`}
	})
	r := e.must("run", "--bundle", b, "m")
	want := "from host\n/mnt/ro ro,relatime\n/mnt/rw rw,nosuid,relatime\n/scratch rw,noexec,relatime\n1\n"
	if r.stdout != want {
		t.Fatalf("mounts seen inside:\n%s\nwant:\n%s", r.stdout, want)
	}
	if data, _ := os.ReadFile(filepath.Join(host, "y")); string(data) != "written\n" {
		t.Fatalf("rw bind mount did not reach the host dir: %q", data)
	}
	e.noLeftovers("m")
}

// tmpcopyup (podman --read-only puts it on /tmp, /run, /var/tmp): the
// tmpfs starts with a copy of the directory it covers, modes and owners
// kept, symlinks copied as links.
func TestTmpcopyup(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "strict", func(s *specs.Spec) {
		s.Root.Readonly = true
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"rw", "nosuid", "nodev", "tmpcopyup"}})
		s.Process.Args = []string{"sh", "-c", "cat /data/sub/f; stat -c '%a %u:%g' /data/sub/f; readlink /data/link; echo new > /data/g && cat /data/g; grep ' /data ' /proc/mounts | cut -d' ' -f3"}
	})
	os.MkdirAll(filepath.Join(b, "rootfs/data/sub"), 0o755)
	os.WriteFile(filepath.Join(b, "rootfs/data/sub/f"), []byte("from the image\n"), 0o604)
	os.Chown(filepath.Join(b, "rootfs/data/sub/f"), 1000, 1000)
	os.Symlink("/etc/passwd", filepath.Join(b, "rootfs/data/link"))
	r := e.rung("run", "--bundle", b, "c")
	if r.stdout != "from the image\n604 1000:1000\n/etc/passwd\nnew\ntmpfs\n" {
		t.Fatalf("tmpcopyup: %q %s", r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(b, "rootfs/data/g")); err == nil {
		t.Fatal("a write to the tmpfs reached the image")
	}
	e.noLeftovers("c")
}
