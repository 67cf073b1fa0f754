package runtime

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rungrt/rung/libns"
)

// A container without a pid namespace of its own but with a proc mount
// sees the host's processes, and /proc/<pid>/root of any of them it may
// ptrace (a host root process without capabilities, say) is that
// process' root: the host's "/", whatever mount namespace the container
// has (issue 15 §6.6). runc runs such a config as asked, and so does
// rung: the config says it, and the standard rung (a mount namespace
// alone, rung's own `spec --isolation standard`) is exactly that. But it
// is less than a mount namespace promises, so it is told: a warning at
// create that names the fields (and, under --min-isolation, the rung it
// weakens), "hostProc" in the state's isolation, an exposure in verify.
const hostProcExposure = "a proc mount without a pid namespace of its own: the container sees the host's processes, and /proc/<pid>/root of one it may ptrace reaches the host's root"

// hostProcMount returns the config's first proc mount when the container
// gets no pid namespace of its own, and -1 otherwise.
func hostProcMount(s *specs.Spec, isolated libns.Set) int {
	if isolated.Has(libns.PID) {
		return -1
	}
	for i, m := range s.Mounts {
		if m.Type == "proc" {
			return i
		}
	}
	return -1
}

// hostProcWarning names the proc mount and the missing pid namespace, and
// under --min-isolation the rung whose mount namespace it undermines.
func hostProcWarning(s *specs.Spec, i int, min *libns.Rung) string {
	w := fmt.Sprintf("mounts[%d] (proc on %s) without a pid namespace in linux.namespaces: %s", i, s.Mounts[i].Destination, hostProcExposure)
	if min != nil && min.Requires().Has(libns.Mount) {
		w = fmt.Sprintf("--min-isolation %s: allowed (the rung has no pid namespace), but %s", *min, w)
	}
	return w
}

// liveHostProc reports, from the kernel, whether the container's init
// shares the runtime's pid namespace and has a proc mount in its view of
// the mount table (for a chrooted init, only what is below its root).
func liveHostProc(pid int, pidShared bool) (string, error) {
	if !pidShared {
		return "", nil
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ... mountpoint(5th) ... - fstype source options
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if ok && len(fields) >= 5 && len(tail) >= 1 && tail[0] == "proc" {
			return fmt.Sprintf("proc on %s: %s", fields[4], hostProcExposure), nil
		}
	}
	return "", sc.Err()
}
