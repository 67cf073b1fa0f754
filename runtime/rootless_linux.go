package runtime

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rungrt/rung/libns"
	"github.com/rungrt/rung/spec"
)

// idRange is a run of host ids: [start, start+size).
type idRange struct{ start, size uint64 }

// checkRootless vets a config for a caller without privilege (euid not
// 0) before anything is made. Such a caller can create nothing but a user
// namespace, so one is required; and it may map only ids it owns: its own
// uid and gid, and its subordinate ranges in /etc/subuid and /etc/subgid
// (which newuidmap/newgidmap check again). A mapping beyond them is named
// here rather than left to a bare EPERM from the kernel.
func checkRootless(s *specs.Spec, plan spec.Plan) error {
	if !plan.Create.Has(libns.User) && !plan.Joined().Has(libns.User) {
		return errors.New("rootless container requires user namespaces")
	}
	if !plan.Create.Has(libns.User) {
		return nil
	}
	uid, gid := uint64(os.Geteuid()), uint64(os.Getegid())
	subUIDs, err := subordinateIDs("/etc/subuid", uid)
	if err != nil {
		return err
	}
	subGIDs, err := subordinateIDs("/etc/subgid", uid)
	if err != nil {
		return err
	}
	if err := ownedMappings("uidMappings", s.Linux.UIDMappings, uid, subUIDs, "/etc/subuid"); err != nil {
		return err
	}
	if err := ownedMappings("gidMappings", s.Linux.GIDMappings, gid, subGIDs, "/etc/subgid"); err != nil {
		return err
	}
	return nil
}

// ownedMappings checks that every host range of maps is the caller's id
// or lies within one of its subordinate ranges.
func ownedMappings(field string, maps []specs.LinuxIDMapping, id uint64, sub []idRange, file string) error {
	if len(maps) == 0 {
		return fmt.Errorf("linux.%s: a rootless container needs at least one mapping", field)
	}
	for i, m := range maps {
		start, size := uint64(m.HostID), uint64(m.Size)
		if size == 0 {
			return fmt.Errorf("linux.%s[%d]: size 0", field, i)
		}
		ok := start == id && size == 1
		for _, r := range sub {
			if start >= r.start && start+size <= r.start+r.size {
				ok = true
			}
		}
		if !ok {
			return fmt.Errorf("linux.%s[%d]: host ids %d-%d are not the caller's (id %d): neither its own id nor within its ranges in %s", field, i, start, start+size-1, id, file)
		}
	}
	return nil
}

// subordinateIDs reads the caller's ranges from /etc/subuid or
// /etc/subgid: lines "user:start:count", the user by name or by uid. A
// missing file means no ranges.
func subordinateIDs(file string, uid uint64) ([]idRange, error) {
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	defer f.Close()
	names := map[string]bool{strconv.FormatUint(uid, 10): true}
	if u, err := user.LookupId(strconv.FormatUint(uid, 10)); err == nil {
		names[u.Username] = true
	}
	var out []idRange
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(parts) != 3 || !names[parts[0]] {
			continue
		}
		start, err1 := strconv.ParseUint(parts[1], 10, 32)
		size, err2 := strconv.ParseUint(parts[2], 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, idRange{start, size})
	}
	return out, sc.Err()
}

// ownIDsOnly reports whether the config maps exactly the caller's own uid
// and gid, the one mapping an unprivileged process may write itself.
func ownIDsOnly(s *specs.Spec) bool {
	own := func(m []specs.LinuxIDMapping, id int) bool {
		return len(m) == 1 && int(m[0].HostID) == id && m[0].Size == 1
	}
	return own(s.Linux.UIDMappings, os.Geteuid()) && own(s.Linux.GIDMappings, os.Getegid())
}

// writeMappings maps pid's user namespace through the setuid helpers
// newuidmap and newgidmap (shadow's uidmap package): they write only
// ranges /etc/subuid and /etc/subgid grant the caller.
func writeMappings(pid int, s *specs.Spec) error {
	for _, t := range []struct {
		tool, field string
		maps        []specs.LinuxIDMapping
	}{
		{"newuidmap", "linux.uidMappings", s.Linux.UIDMappings},
		{"newgidmap", "linux.gidMappings", s.Linux.GIDMappings},
	} {
		path, err := exec.LookPath(t.tool)
		if err != nil {
			return fmt.Errorf("%s: several mappings need %s (Debian: apt-get install uidmap): %w", t.field, t.tool, err)
		}
		args := []string{strconv.Itoa(pid)}
		for _, m := range t.maps {
			args = append(args, strconv.FormatUint(uint64(m.ContainerID), 10), strconv.FormatUint(uint64(m.HostID), 10), strconv.FormatUint(uint64(m.Size), 10))
		}
		if out, err := exec.Command(path, args...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %s: %w: %s", t.field, t.tool, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}
