package runtime

import (
	"time"

	"github.com/rungrt/rung/internal/killpoint"
)

// Wait forwards the signals rung receives to the container's init until
// it exits, and returns its exit status the way a shell reports it:
// the exit code, or 128+N after signal N. Only the process that created
// the container (init's parent or subreaper) can wait for it. With a
// relayed terminal, the container's pty is rung's stdio meanwhile.
func (c *CreatedContainer) Wait() (int, error) {
	killpoint.Hit(killpoint.RunStarted)
	defer killpoint.Hit(killpoint.RunExited)
	if c.tty == nil {
		return waitForwarding(c.Rec.Pid)
	}
	if err := c.tty.Start(); err != nil {
		return -1, err
	}
	relayed := make(chan struct{})
	go func() { c.tty.Relay(); close(relayed) }()
	status, err := waitForwarding(c.Rec.Pid)
	select {
	case <-relayed:
	case <-time.After(time.Second): // a grandchild may hold the pty open
		c.tty.Close()
	}
	return status, err
}
