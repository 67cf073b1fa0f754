package tests

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// consoleSocket listens where an engine would and returns the pty master
// the runtime sends.
func consoleSocket(t *testing.T, dir string) (string, <-chan *os.File) {
	t.Helper()
	path := filepath.Join(dir, "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *os.File, 1)
	go func() {
		defer l.Close()
		conn, err := l.AcceptUnix()
		if err != nil {
			close(got)
			return
		}
		defer conn.Close()
		buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(4))
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil || n == 0 {
			close(got)
			return
		}
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		if len(msgs) != 1 {
			close(got)
			return
		}
		fds, _ := unix.ParseUnixRights(&msgs[0])
		got <- os.NewFile(uintptr(fds[0]), string(buf[:n]))
	}()
	return path, got
}

func TestConsoleSocket(t *testing.T) {
	e := newEnv(t)
	sock, masters := consoleSocket(t, e.dir)
	b := e.bundle("b", "strict", func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.ConsoleSize = &specs.Box{Height: 40, Width: 120}
		s.Process.Args = []string{"sh", "-c", "tty; readlink /proc/self/fd/0; ls -l /dev/console | cut -c1; echo end; sleep 1"}
	})
	e.must("create", "--bundle", b, "--console-socket", sock, "tty")
	var master *os.File
	select {
	case master = <-masters:
	case <-time.After(5 * time.Second):
		t.Fatal("no pty master received")
	}
	if master == nil || master.Name() == "" {
		t.Fatal("pty master not received with a name")
	}
	defer master.Close()
	ws, err := unix.IoctlGetWinsize(int(master.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Row != 40 || ws.Col != 120 {
		t.Fatalf("console size %+v %v", ws, err)
	}
	e.must("start", "tty")
	var out strings.Builder
	buf := make([]byte, 4096)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "end") && time.Now().Before(deadline) {
		master.SetReadDeadline(time.Now().Add(time.Second))
		n, _ := master.Read(buf)
		out.Write(buf[:n])
	}
	got := strings.ReplaceAll(out.String(), "\r", "")
	if !strings.HasPrefix(got, "/dev/pts/0\n/dev/pts/0\nc\nend") {
		t.Fatalf("terminal output %q", got)
	}
	e.must("delete", "-f", "tty")
	e.noLeftovers("tty")

	e.mustFail(t, "console socket", "create", "--bundle", b, "noconsole")
	e.noLeftovers("noconsole")
}

// CVE-2025-52565: with the image's own /dev, a /dev/console symlink to a
// host file must not get the pty bind-mounted over that file.
func TestConsoleSymlinkRefused(t *testing.T) {
	e := newEnv(t)
	victim := filepath.Join(e.dir, "victim")
	os.WriteFile(victim, []byte("host file\n"), 0o644)
	sock, _ := consoleSocket(t, e.dir)
	b := e.bundle("b", "strict", func(s *specs.Spec) {
		var mounts []specs.Mount
		for _, m := range s.Mounts {
			if m.Destination != "/dev" {
				mounts = append(mounts, m)
			}
		}
		s.Mounts = mounts
		s.Linux.MaskedPaths = nil
		s.Process.Terminal = true
		sleeper(s)
	})
	os.MkdirAll(filepath.Join(b, "rootfs/dev/pts"), 0o755)
	os.Symlink(victim, filepath.Join(b, "rootfs/dev/console"))
	r := e.rung("create", "--bundle", b, "--console-socket", sock, "c")
	if r.code == 0 {
		e.rung("delete", "-f", "c")
		t.Fatal("create succeeded with /dev/console a symlink")
	}
	if !strings.Contains(r.stderr, "/dev/console") {
		t.Errorf("error does not name /dev/console: %s", r.stderr)
	}
	if data, _ := os.ReadFile(victim); string(data) != "host file\n" {
		t.Fatalf("host file changed: %q", data)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), victim) {
		t.Fatal("something is mounted on the host file")
	}
	e.noLeftovers("c")
}
