package runtime

import (
	"os"
	"syscall"
)

// killPointEnv names a step at which rung SIGKILLs itself, for the tests
// that prove a runtime killed mid-way (an engine's timeout, the OOM
// killer) leaves nothing that delete cannot remove.
const killPointEnv = "RUNG_TEST_KILL_AT"

func killPoint(step string) {
	if os.Getenv(killPointEnv) == step {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
