package runtime

// Wait forwards the signals rung receives to the container's init until
// it exits, and returns its exit status the way a shell reports it:
// the exit code, or 128+N after signal N. Only the process that created
// the container (init's parent or subreaper) can wait for it.
func (c *CreatedContainer) Wait() (int, error) {
	return waitForwarding(c.Rec.Pid)
}
