package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rungrt/rung/initproc"
)

// relaySeccompFd answers init's SeccompFdOffer: it takes the notify fd
// over the sync socket and sends it to the agent at listenerPath with the
// container process state (runtime spec, "containerProcessState"), then
// lets init go on. Any failure is the create's or exec's error: init
// dies with the socket, and nothing runs under a filter nobody serves.
func relaySeccompFd(sync *os.File, enc *json.Encoder, sc *specs.LinuxSeccomp, pid int, st specs.State) error {
	if sc == nil || sc.ListenerPath == "" {
		return errors.New("unable to start container process: init sent a seccomp notify fd, but linux.seccomp.listenerPath is not set")
	}
	if err := initproc.Send(enc, initproc.SeccompFdAccept{}); err != nil {
		return fmt.Errorf("ask for the seccomp notify fd: %w", err)
	}
	fd, err := recvOneFd(int(sync.Fd()))
	if err != nil {
		return fmt.Errorf("receive the seccomp notify fd: %w", err)
	}
	defer unix.Close(fd)
	cps := specs.ContainerProcessState{
		Version:  ociVersion,
		Fds:      []string{specs.SeccompFdName},
		Pid:      pid,
		Metadata: sc.ListenerMetadata,
		State:    st,
	}
	if err := sendToAgent(sc.ListenerPath, cps, fd); err != nil {
		return err
	}
	if err := initproc.Send(enc, initproc.SeccompFdPassed{}); err != nil {
		return fmt.Errorf("resume init: %w", err)
	}
	return nil
}

func recvOneFd(sock int) (int, error) {
	buf, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return -1, err
	}
	var fds []int
	if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
		for _, m := range msgs {
			if f, err := unix.ParseUnixRights(&m); err == nil {
				fds = append(fds, f...)
			}
		}
	}
	if n != 1 || buf[0] != 'S' || len(fds) != 1 {
		for _, f := range fds {
			unix.Close(f)
		}
		return -1, fmt.Errorf("init sent %d bytes and %d fds, want 1 and 1", n, len(fds))
	}
	return fds[0], nil
}

// sendToAgent sends the state as one message with the fd as SCM_RIGHTS.
func sendToAgent(path string, cps specs.ContainerProcessState, fd int) error {
	data, err := json.Marshal(cps)
	if err != nil {
		return err
	}
	sock, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("linux.seccomp.listenerPath: %w", err)
	}
	defer unix.Close(sock)
	if err := unix.Connect(sock, &unix.SockaddrUnix{Name: path}); err != nil {
		// runc's words, so that scripts matching them keep working.
		return fmt.Errorf("unable to start container process: failed to connect with seccomp agent specified in the seccomp profile: dial unix %s: connect: %w", path, err)
	}
	if err := unix.Sendmsg(sock, data, unix.UnixRights(fd), nil, 0); err != nil {
		return fmt.Errorf("unable to start container process: send the seccomp notify fd to the agent at %s: %w", path, err)
	}
	return nil
}
