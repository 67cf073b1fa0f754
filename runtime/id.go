// Package runtime is the container lifecycle: the state directory and its
// state file, create and the create/start split, exec, kill, delete and
// list, the container's cgroup (update, pause, events), verify, and the
// features report. It takes a validated plan from spec and libns, starts
// initproc, runs the runtime's hooks (package hooks) and, for a container
// without a mount namespace, stacks its rootfs copy (package hostroot).
package runtime

import (
	"errors"
	"regexp"
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_+.-]+$`)

// ErrInvalidID is returned for an ID that could escape the state root.
var ErrInvalidID = errors.New("invalid container ID format")

// ValidateID accepts the IDs runc accepts; "." and ".." would name the
// root itself or its parent.
func ValidateID(id string) error {
	if !idPattern.MatchString(id) || id == "." || id == ".." {
		return ErrInvalidID
	}
	return nil
}
