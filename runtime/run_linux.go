package runtime

import (
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// Wait forwards the signals rung receives to the container's init until
// it exits, and returns its exit status the way a shell reports it:
// the exit code, or 128+N after signal N.
func (c *CreatedContainer) Wait() (int, error) {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs)
	defer signal.Stop(sigs)
	done := make(chan error, 1)
	go func() { done <- c.Cmd.Wait() }()
	for {
		select {
		case s := <-sigs:
			sig, ok := s.(syscall.Signal)
			if !ok || sig == unix.SIGCHLD || sig == unix.SIGURG || sig == unix.SIGWINCH || sig == unix.SIGPIPE {
				continue
			}
			_ = signalProcess(c.Rec.Pid, c.Rec.StartTime, sig)
		case err := <-done:
			var ee *exitError
			if err != nil && !errors.As(err, &ee) {
				return -1, err
			}
			ws := c.Cmd.ProcessState.Sys().(syscall.WaitStatus)
			if ws.Signaled() {
				return 128 + int(ws.Signal()), nil
			}
			return ws.ExitStatus(), nil
		}
	}
}

type exitError = exec.ExitError
