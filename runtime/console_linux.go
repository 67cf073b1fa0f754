package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/containerd/console"
	"golang.org/x/sys/unix"
)

// dialConsoleSocket connects to the engine's console socket; the
// connected fd goes to the container process, which sends the pty master.
func dialConsoleSocket(path string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("connect to console socket %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), "console-socket"), nil
}

// ttyProxy is a foreground `run` or `exec` with a terminal and no console
// socket: rung receives the pty master itself and relays it to its own
// stdio, with its own terminal in raw mode.
type ttyProxy struct {
	recv   *os.File // rung's end of the socketpair
	Send   *os.File // the end the container process gets
	master *os.File
	cur    console.Console
}

func newTTYProxy() (*ttyProxy, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &ttyProxy{recv: os.NewFile(uintptr(fds[0]), "console-recv"), Send: os.NewFile(uintptr(fds[1]), "console-send")}, nil
}

// Start receives the master and starts relaying.
func (p *ttyProxy) Start() error {
	p.Send.Close()
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(int(p.recv.Fd()), buf, oob, 0)
	if err != nil {
		return fmt.Errorf("receive pty master: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return errors.New("receive pty master: no fd sent")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return errors.New("receive pty master: no fd sent")
	}
	p.master = os.NewFile(uintptr(fds[0]), "pty-master")
	if cur, err := console.ConsoleFromFile(os.Stdin); err == nil {
		p.cur = cur
		if ws, err := cur.Size(); err == nil {
			if m, err := console.ConsoleFromFile(p.master); err == nil {
				_ = m.Resize(ws)
			}
		}
		_ = cur.SetRaw()
	}
	go func() { _, _ = io.Copy(p.master, os.Stdin) }()
	return nil
}

// Relay copies the container's output until the pty closes, then puts
// rung's terminal back.
func (p *ttyProxy) Relay() {
	if p.master != nil {
		_, _ = io.Copy(os.Stdout, p.master)
	}
	p.Close()
}

func (p *ttyProxy) Close() {
	if p.cur != nil {
		_ = p.cur.Reset()
	}
	p.recv.Close()
	p.Send.Close()
}
