package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/moby/sys/userns"
)

// rootlessFlag is the global --rootless value: true, false or auto.
var rootlessFlag = "auto"

// xdgRoot reports whether the default state root is under
// $XDG_RUNTIME_DIR, by runc's rule: for a caller who is not root, or who
// is root only inside a user namespace and not the user "root" there.
// The real root keeps /run/rung.
func xdgRoot() bool {
	if os.Getenv("XDG_RUNTIME_DIR") == "" {
		return false
	}
	if os.Geteuid() != 0 {
		return true
	}
	if !userns.RunningInUserNS() {
		return false
	}
	u, ok := os.LookupEnv("USER")
	return !ok || u != "root"
}

func defaultRoot() string {
	if xdgRoot() {
		return filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "rung")
	}
	return "/run/rung"
}

// setupRoot makes the default state root under $XDG_RUNTIME_DIR, as runc
// does, sticky: the XDG spec lets a session manager prune files there
// that are not.
func setupRoot(c *cli.Context) error {
	if c.IsSet("root") || !xdgRoot() {
		return nil
	}
	root := c.String("root")
	if err := os.MkdirAll(root, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, "the path in $XDG_RUNTIME_DIR must be writable by the user")
		return err
	}
	return os.Chmod(root, 0o700|os.ModeSticky)
}

// rootlessCgroups is runc's --rootless rule: auto means rootless for a
// caller who is not root, or is root only inside a user namespace (where
// the cgroup tree belongs to someone else). In rootless mode a cgroup the
// caller may not create is skipped when the config sets no limits and no
// cgroupsPath; otherwise the create fails.
func rootlessCgroups() (bool, error) {
	if rootlessFlag != "" && rootlessFlag != "auto" {
		return strconv.ParseBool(rootlessFlag)
	}
	return os.Geteuid() != 0 || userns.RunningInUserNS(), nil
}
