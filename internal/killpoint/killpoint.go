// Package killpoint names the steps of rung's lifecycle commands at which
// a test may SIGKILL the runtime, and lets a test trace which steps a run
// passed. It proves that a runtime killed mid-way (an engine's timeout,
// the OOM killer) leaves nothing that `delete --force` cannot remove.
// Both hooks are off unless their environment variable is set. It is
// internal: only the runtime and rung's own tests (tests/kill_test.go)
// have a use for it.
package killpoint

import (
	"os"
	"syscall"
)

// Env names the step at which rung SIGKILLs itself.
const Env = "RUNG_TEST_KILL_AT"

// TraceEnv names a file to which rung appends each step it passes, one
// line each: after a kill from outside, the last line is where it landed.
const TraceEnv = "RUNG_TEST_TRACE"

// The steps, in the order each command passes them. The names are stable:
// tests refer to them.
const (
	// create (and the first half of run)
	CreateDir            = "create-dir"             // state directory made and locked
	CreateHostRoot       = "create-hostroot"        // rootfs copy attached (no mount namespace only)
	CreateCgroupRecorded = "create-cgroup-recorded" // cgroup.json written, cgroup not made
	CreateInit           = "create-init"            // init cloned, waiting for its config
	Cgroup               = "cgroup"                 // init moved into its cgroup
	CreateConfig         = "create-config"          // config sent to init
	CreateReady          = "create-ready"           // init reported ready
	CreateRecord         = "create-record"          // state.json written, init not released
	CreateDone           = "create-done"            // init released to wait for start

	// start
	StartBegin   = "start-begin"   // init found waiting
	StartFifo    = "start-fifo"    // exec.fifo opened
	StartRead    = "start-read"    // init's byte read: it is about to exec
	StartRemoved = "start-removed" // exec.fifo removed
	StartDone    = "start-done"    // user process exec'd, before poststart hooks

	// run, after its create and start
	RunStarted = "run-started" // waiting for the container
	RunExited  = "run-exited"  // container exited, before its delete

	// exec
	ExecSpawned = "exec-spawned" // process cloned, joining namespaces
	ExecJoined  = "exec-joined"  // namespaces joined and verified
	ExecCgroup  = "exec-cgroup"  // moved into the container's cgroup
	ExecConfig  = "exec-config"  // process config sent
	ExecStarted = "exec-started" // process exec'd

	// delete
	DeleteLocked    = "delete-locked"    // state directory locked
	DeleteKilled    = "delete-killed"    // processes killed
	DeleteUnmounted = "delete-unmounted" // rootfs copy detached
	DeleteCgroup    = "delete-cgroup"    // cgroup removed
	DeleteRemoved   = "delete-removed"   // state directory removed, before poststop hooks
)

// All lists every step, by command.
var All = map[string][]string{
	"create": {CreateDir, CreateHostRoot, CreateCgroupRecorded, CreateInit, Cgroup, CreateConfig, CreateReady, CreateRecord, CreateDone},
	"start":  {StartBegin, StartFifo, StartRead, StartRemoved, StartDone},
	"run":    {RunStarted, RunExited},
	"exec":   {ExecSpawned, ExecJoined, ExecCgroup, ExecConfig, ExecStarted},
	"delete": {DeleteLocked, DeleteKilled, DeleteUnmounted, DeleteCgroup, DeleteRemoved},
}

// Hit marks that rung has passed step: it is traced, and if the test
// asked to be killed here, rung SIGKILLs itself.
func Hit(step string) {
	if p := os.Getenv(TraceEnv); p != "" {
		if f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_CLOEXEC, 0o600); err == nil {
			_, _ = f.WriteString(step + "\n")
			f.Close()
		}
	}
	if os.Getenv(Env) == step {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
