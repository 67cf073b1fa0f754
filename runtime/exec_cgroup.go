package runtime

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// ParseSubCgroups reads exec's --cgroup values, [CONTROLLER[,CONTROLLER]:]PATH,
// into controller → path; the key "" stands for every hierarchy. A path
// without controllers may only be given alone, and no controller twice.
func ParseSubCgroups(args []string) (map[string]string, error) {
	if len(args) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, a := range args {
		ctrls, p, ok := strings.Cut(a, ":")
		if !ok {
			if len(args) != 1 {
				return nil, fmt.Errorf("--cgroup %q: a path for every controller cannot be combined with other --cgroup values", a)
			}
			out[""] = a
			continue
		}
		if strings.Contains(p, ":") {
			return nil, fmt.Errorf("--cgroup %q: want [CONTROLLER[,CONTROLLER]:]PATH", a)
		}
		for _, c := range strings.Split(ctrls, ",") {
			if _, dup := out[c]; dup {
				return nil, fmt.Errorf("--cgroup %q: controller %q given twice", a, c)
			}
			out[c] = p
		}
	}
	if _, all := out[""]; all && len(out) > 1 {
		return nil, fmt.Errorf("--cgroup: a path for every controller cannot be combined with per-controller paths")
	}
	return out, nil
}

// execCgroupPaths is where an exec'd process goes in each hierarchy: the
// container's cgroup, or the sub-cgroup of it that sub names. A sub path is
// read below the container's cgroup even when absolute ("/" is the
// container's own), and one that climbs out of it with ".." is refused:
// exec must not put a process outside the container's limits.
func execCgroupPaths(base, sub map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(base))
	for k, v := range base {
		out[k] = v
	}
	if len(sub) == 0 {
		return out, nil
	}
	join := func(dir, p string) (string, error) {
		if escapes(p) {
			return "", fmt.Errorf("%s is not a sub cgroup path", p)
		}
		return path.Join(dir, path.Clean("/"+p)), nil
	}
	if p, all := sub[""]; all {
		for k, dir := range out {
			j, err := join(dir, p)
			if err != nil {
				return nil, err
			}
			out[k] = j
		}
		return out, nil
	}
	ctrls := make([]string, 0, len(sub))
	for c := range sub {
		ctrls = append(ctrls, c)
	}
	sort.Strings(ctrls)
	for _, c := range ctrls {
		dir, ok := base[c]
		if !ok {
			return nil, fmt.Errorf("unknown controller %s in the container's cgroups", c)
		}
		j, err := join(dir, sub[c])
		if err != nil {
			return nil, err
		}
		out[c] = j
	}
	return out, nil
}

// escapes reports whether p, read step by step from a directory, ever
// climbs above it ("a/../../b" does, "a/../b" does not).
func escapes(p string) bool {
	depth := 0
	for _, el := range strings.Split(p, "/") {
		switch el {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return true
			}
		default:
			depth++
		}
	}
	return false
}
