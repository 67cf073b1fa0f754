// Package hooks runs the OCI lifecycle hooks (runtime spec, "POSIX-platform
// Hooks"): each hook is a program given the container state JSON on
// stdin, run with the hook's own args, env and timeout. Both sides of
// rung run them, which is why it is a package of its own below both: the
// runtime runs prestart, createRuntime, poststart and poststop in the
// runtime's namespaces; init runs createContainer and startContainer in
// the container's.
package hooks

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Run runs OCI hooks one after the other, each with the container state
// JSON on stdin, and stops at the first that fails.
func Run(kind string, hooks []specs.Hook, state []byte) error {
	for i, h := range hooks {
		if err := runHook(h, state); err != nil {
			return fmt.Errorf("%s hook #%d (%s): %w", kind, i, h.Path, err)
		}
	}
	return nil
}

// RunWarn runs every hook even when some fail, returning one error
// per failure: poststart and poststop failures are warnings, and the
// remaining hooks run as if the hook had succeeded (runtime spec).
func RunWarn(kind string, hooks []specs.Hook, state []byte) []error {
	var errs []error
	for i, h := range hooks {
		if err := runHook(h, state); err != nil {
			errs = append(errs, fmt.Errorf("%s hook #%d (%s): %w", kind, i, h.Path, err))
		}
	}
	return errs
}

func runHook(h specs.Hook, state []byte) error {
	ctx := context.Background()
	if h.Timeout != nil {
		if *h.Timeout <= 0 {
			return fmt.Errorf("timeout must be positive, got %d", *h.Timeout)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, h.Path)
	cmd.Path = h.Path // never looked up in $PATH: the spec wants an absolute path
	cmd.Args = h.Args
	if len(cmd.Args) == 0 {
		cmd.Args = []string{h.Path}
	}
	cmd.Env = h.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Stdin = bytes.NewReader(state)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// A hook that forks a daemon keeping stdout open must not block us.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("timed out after %ds", *h.Timeout)
	}
	if err != nil {
		if msg := strings.TrimSpace(out.String()); msg != "" {
			return fmt.Errorf("%w: %s", err, msg)
		}
		return err
	}
	return nil
}
