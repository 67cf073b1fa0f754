package initproc

import (
	"encoding/json"
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Seccomp user notification (runtime spec: linux.seccomp.listenerPath).
// The filter is loaded with SECCOMP_FILTER_FLAG_NEW_LISTENER; the kernel
// returns the notify fd, which init hands to the runtime over the sync
// socket (SeccompFdOffer, SeccompFdAccept, then one byte with the fd as
// SCM_RIGHTS). The runtime sends it to the agent at listenerPath with the
// container process state, and answers SeccompFdPassed once it has; only
// then does init go on towards the exec, so the agent holds the fd before
// the first notified syscall can wait for it.

// checkNotify applies the rules for SCMP_ACT_NOTIFY, as runc does, and
// says whether the filter needs a listener.
func checkNotify(sc *specs.LinuxSeccomp) (bool, error) {
	if sc.DefaultAction == specs.ActNotify {
		return false, errors.New("linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be used as default action")
	}
	notify := false
	for i, r := range sc.Syscalls {
		if r.Action != specs.ActNotify {
			continue
		}
		notify = true
		for _, name := range r.Names {
			// The agent's answer, and the runtime's own error messages,
			// would wait on a write the agent must serve: a deadlock.
			if name == "write" {
				return false, fmt.Errorf("linux.seccomp.syscalls[%d]: SCMP_ACT_NOTIFY cannot be used for the write syscall", i)
			}
		}
	}
	if notify && sc.ListenerPath == "" {
		return false, errors.New("linux.seccomp: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath (no agent to send the notify fd to)")
	}
	return notify && sc.ListenerPath != "", nil
}

// notifyFlags are the seccomp(2) flags of a filter with a listener: the
// kernel refuses NEW_LISTENER with TSYNC unless TSYNC_ESRCH says how a
// failed thread sync is reported (then as ESRCH, not a thread id).
const notifyFlags = unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH

// seccompFdSink hands a notify fd to the runtime; set by Main and
// ExecMain, which own the sync socket.
var seccompFdSink func(fd int) error

// passNotifyFd is called right after a filter with a listener is loaded.
func passNotifyFd(fd int) error {
	if seccompFdSink == nil {
		unix.Close(fd)
		return errors.New("linux.seccomp.listenerPath: no runtime to pass the notify fd to")
	}
	err := seccompFdSink(fd)
	unix.Close(fd)
	if err != nil {
		return fmt.Errorf("linux.seccomp.listenerPath: %w", err)
	}
	return nil
}

// syncSeccompFd is the init side of the hand-over on the sync socket.
func syncSeccompFd(enc *json.Encoder, dec *json.Decoder, fd int) error {
	if err := Send(enc, SeccompFdOffer{}); err != nil {
		return fmt.Errorf("offer the notify fd: %w", err)
	}
	if _, err := Expect[SeccompFdAccept](dec); err != nil {
		return errors.New("the runtime did not take the notify fd")
	}
	if err := unix.Sendmsg(SyncFd, []byte{'S'}, unix.UnixRights(fd), nil, 0); err != nil {
		return fmt.Errorf("send the notify fd: %w", err)
	}
	if _, err := Expect[SeccompFdPassed](dec); err != nil {
		return errors.New("the runtime could not pass the notify fd to the agent")
	}
	return nil
}
