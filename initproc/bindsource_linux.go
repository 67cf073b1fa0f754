package initproc

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// BindSourcePath is where a bind mount's source is: relative sources are
// relative to the bundle.
func BindSourcePath(bundle string, m specs.Mount) string {
	if filepath.IsAbs(m.Source) {
		return m.Source
	}
	return filepath.Join(bundle, m.Source)
}

// BindSourcePaths lists, by mount index, the sources of s's bind mounts.
func BindSourcePaths(s *specs.Spec, bundle string) (idx []int, paths []string) {
	for i, m := range s.Mounts {
		if parseMountOptions(m.Type, m.Options).bind {
			idx = append(idx, i)
			paths = append(paths, BindSourcePath(bundle, m))
		}
	}
	return idx, paths
}

// maxBindSources keeps the sources in one message (the kernel's
// SCM_MAX_FD is 253).
const maxBindSources = 250

// receiveBindSources asks the runtime for the bind sources and takes them
// from the sync socket. The runtime sends nothing else until it has read
// the request, so the JSON decoder has nothing of the message buffered.
func receiveBindSources(cfg *Config, enc *json.Encoder, sync int) error {
	idx, _ := BindSourcePaths(cfg.Spec, cfg.Bundle)
	if len(idx) > maxBindSources {
		return fmt.Errorf("mounts: %d bind mounts in a user namespace, at most %d", len(idx), maxBindSources)
	}
	if err := Send(enc, BindSourcesRequest{}); err != nil {
		return err
	}
	buf, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4*maxBindSources))
	n, oobn, _, _, err := unix.Recvmsg(sync, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return fmt.Errorf("receive bind sources: %w", err)
	}
	var fds []int
	if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
		for _, m := range msgs {
			f, err := unix.ParseUnixRights(&m)
			if err == nil {
				fds = append(fds, f...)
			}
		}
	}
	if n != 1 || buf[0] != 'F' || len(fds) != len(idx) {
		for _, fd := range fds {
			unix.Close(fd)
		}
		if n == 1 && buf[0] == 'E' {
			return errors.New("bind sources: the runtime could not open them")
		}
		return fmt.Errorf("bind sources: got %d fds, want %d", len(fds), len(idx))
	}
	cfg.bindFds = map[int]int{}
	for k, i := range idx {
		cfg.bindFds[i] = fds[k]
	}
	return nil
}
