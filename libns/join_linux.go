package libns

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// nsGetNstype is NS_GET_NSTYPE from <linux/nsfs.h>: _IO(0xb7, 0x3).
const nsGetNstype = 0xb703

// Join is one namespace to enter: an fd the runtime opened and checked.
type Join struct {
	Kind Kind
	File *os.File
}

// OpenNamespace opens path and proves it is a namespace of kind k: on
// nsfs, and NS_GET_NSTYPE says k. The child is only ever handed the fd,
// never the path, so a path swapped after this check changes nothing.
func OpenNamespace(path string, k Kind) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s namespace %s: %w", k, path, err)
	}
	var fs unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &fs); err != nil || fs.Type != unix.NSFS_MAGIC {
		f.Close()
		return nil, fmt.Errorf("%s namespace path %s: not a namespace file", k, path)
	}
	t, err := unix.IoctlRetInt(int(f.Fd()), nsGetNstype)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s namespace path %s: NS_GET_NSTYPE: %w", k, path, err)
	}
	if uintptr(t) != k.CloneFlag() {
		f.Close()
		return nil, fmt.Errorf("%s namespace path %s: is a %s namespace", k, path, kindOfFlag(uintptr(t)))
	}
	return f, nil
}

func kindOfFlag(flag uintptr) string {
	for _, k := range AllKinds() {
		if k.CloneFlag() == flag {
			return k.String()
		}
	}
	return "unknown"
}

// NeedsFork reports whether joining these makes the joining process fork
// (pid and time namespaces apply to children only).
func NeedsFork(joins []Join, unshare Set) bool {
	if unshare.Has(PID) || unshare.Has(Time) {
		return true
	}
	for _, j := range joins {
		if j.Kind == PID || j.Kind == Time {
			return true
		}
	}
	return false
}

// TimeOffsetsEnv carries a new time namespace's offsets to the
// constructor, in the text /proc/self/timens_offsets takes.
const TimeOffsetsEnv = "_RUNG_TIMENS_OFFSETS"

// TimeOffsets is linux.timeOffsets as /proc/self/timens_offsets reads it.
func TimeOffsets(offsets map[string]specs.LinuxTimeOffset) (string, error) {
	var b strings.Builder
	for _, clock := range []string{"monotonic", "boottime"} {
		if off, ok := offsets[clock]; ok {
			fmt.Fprintf(&b, "%s %d %d\n", clock, off.Secs, off.Nanosecs)
		}
	}
	for clock := range offsets {
		if clock != "monotonic" && clock != "boottime" {
			return "", fmt.Errorf("linux.timeOffsets: unknown clock %q", clock)
		}
	}
	return b.String(), nil
}

// EnterEnv is the environment entry that makes the constructor in
// nsenter_linux.c join joins, given the fd number each will have in the
// child, then create the namespaces of unshare; pidFd is where the child
// reports the pid after a fork (-1 for none).
func EnterEnv(joins []Join, childFds []int, pidFd int, unshare Set) (string, error) {
	if len(joins) != len(childFds) {
		return "", errors.New("libns: one child fd per namespace")
	}
	parts := make([]string, len(joins))
	for i, j := range joins {
		parts[i] = strconv.Itoa(childFds[i]) + ":" + strconv.FormatUint(uint64(j.Kind.CloneFlag()), 10)
	}
	return "_RUNG_NSENTER=" + strings.Join(parts, ",") + ";" + strconv.Itoa(pidFd) + ";" + strconv.FormatUint(uint64(unshare.CloneFlags()), 10), nil
}

// VerifyJoined checks that pid is in each joined namespace: its identity
// equals that of the fd.
func VerifyJoined(pid int, joins []Join) error {
	for _, j := range joins {
		want, err := FileIdentity(j.File)
		if err != nil {
			return fmt.Errorf("verify %s namespace: %w", j.Kind, err)
		}
		got, err := ContainerIdentity(pid, j.Kind)
		if err != nil {
			return fmt.Errorf("verify %s namespace: %w", j.Kind, err)
		}
		if got != want {
			return fmt.Errorf("verify %s namespace: process is not in the namespace it joined", j.Kind)
		}
	}
	return nil
}

// JoinedIdentities is the identity of each joined namespace by the name
// a process sees it under in /proc/self/ns (time_for_children for time,
// which a process enters on exec).
func JoinedIdentities(joins []Join) (map[string]Identity, error) {
	m := make(map[string]Identity, len(joins))
	for _, j := range joins {
		id, err := FileIdentity(j.File)
		if err != nil {
			return nil, fmt.Errorf("verify %s namespace: %w", j.Kind, err)
		}
		name := j.Kind.ProcName()
		if j.Kind == Time {
			name = "time_for_children"
		}
		m[name] = id
	}
	return m, nil
}
