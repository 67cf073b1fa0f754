package runtime

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rungrt/rung/libns"
)

// NamespaceCheck is verify's finding for one namespace kind.
type NamespaceCheck struct {
	Kind   string `json:"kind"`
	Want   string `json:"want"`  // new, joined or shared, from the config
	Found  string `json:"found"` // new, joined or shared, from the kernel
	Inode  uint64 `json:"inode"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// Report is what `rung verify` finds on a live container.
type Report struct {
	ID         string           `json:"id"`
	Status     Status           `json:"status"`
	Rung       string           `json:"rung"` // the rung the found namespaces amount to
	Promised   string           `json:"promised"`
	Namespaces []NamespaceCheck `json:"namespaces"`
	CapEff     string           `json:"capEff"`
	CapBnd     string           `json:"capBnd"`
	NoNewPrivs string           `json:"noNewPrivs"`
	Seccomp    string           `json:"seccomp"`
	Cgroup     string           `json:"cgroup"`
	Problems   []string         `json:"problems"`
	// Exposures are what the config asked for and the kernel shows, but
	// reaches beyond the namespaces: not problems, worth knowing.
	Exposures []string `json:"exposures,omitempty"`
}

// OK reports whether everything the config asked for is in effect.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Verify inspects the container's init from outside and compares what the
// kernel says with what the config asked: each namespace by identity
// (new: differs from the runtime's own; joined: equals the configured
// path's; shared: the runtime's own), then capabilities, no_new_privs,
// seccomp and cgroup. The same identity checks ran inside create.
func (c *Container) Verify() (*Report, error) {
	r := &Report{ID: c.Rec.ID, Status: c.Status(), Promised: c.Rec.Isolation.Rung, Problems: []string{}}
	if r.Status == Stopped {
		r.Problems = append(r.Problems, "container not running")
		return r, nil
	}
	want := map[libns.Kind]specs.LinuxNamespace{}
	cfg, err := c.Rec.Spec()
	if err != nil {
		return nil, err
	}
	if cfg != nil && cfg.Linux != nil {
		for _, ns := range cfg.Linux.Namespaces {
			if k, err := libns.ParseKind(ns.Type); err == nil {
				want[k] = ns
			}
		}
	}
	var isolated libns.Set
	for _, k := range libns.AllKinds() {
		id, err := libns.ContainerIdentity(c.Rec.Pid, k)
		if err != nil {
			return nil, err
		}
		shared, err := libns.IsOurs(k, id)
		if err != nil {
			return nil, err
		}
		chk := NamespaceCheck{Kind: k.String(), Inode: id.Ino, Want: "shared"}
		ns, listed := want[k]
		switch {
		case listed && ns.Path == "":
			chk.Want = "new"
		case listed:
			chk.Want = "joined"
		}
		switch {
		case shared:
			chk.Found = "shared"
		case chk.Want == "joined":
			chk.Found = "new"
			if f, err := libns.OpenNamespace(ns.Path, k); err != nil {
				chk.Detail = err.Error()
			} else {
				pathID, err := libns.FileIdentity(f)
				f.Close()
				if err == nil && pathID == id {
					chk.Found = "joined"
				} else if err == nil {
					chk.Detail = fmt.Sprintf("%s is inode %d", ns.Path, pathID.Ino)
				}
			}
		default:
			chk.Found = "new"
		}
		chk.OK = chk.Found == chk.Want
		if chk.Want == "joined" && chk.Found == "shared" && sameAsOurs(ns.Path, k) {
			chk.OK = true // the config joined the runtime's own namespace
		}
		if !chk.OK {
			r.Problems = append(r.Problems, fmt.Sprintf("%s namespace: config asks %s, kernel shows %s", k, chk.Want, chk.Found))
		}
		if chk.Found != "shared" {
			isolated = isolated.Add(k)
		}
		r.Namespaces = append(r.Namespaces, chk)
	}
	r.Rung = libns.Assess(isolated).String()
	exposure, err := liveHostProc(c.Rec.Pid, !isolated.Has(libns.PID))
	if err != nil {
		return nil, err
	}
	if exposure != "" {
		r.Exposures = append(r.Exposures, exposure)
	}
	if err := c.verifyProcess(r); err != nil {
		return nil, err
	}
	return r, nil
}

func sameAsOurs(path string, k libns.Kind) bool {
	f, err := libns.OpenNamespace(path, k)
	if err != nil {
		return false
	}
	defer f.Close()
	id, err := libns.FileIdentity(f)
	if err != nil {
		return false
	}
	ours, err := libns.IsOurs(k, id)
	return err == nil && ours
}

// verifyProcess checks init's capability sets, no_new_privs and seccomp
// mode against the config, and records its cgroup.
func (c *Container) verifyProcess(r *Report) error {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.Rec.Pid))
	if err != nil {
		return err
	}
	fields := map[string]string{}
	for _, line := range strings.Split(string(status), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	r.CapEff, r.CapBnd, r.NoNewPrivs, r.Seccomp = fields["CapEff"], fields["CapBnd"], fields["NoNewPrivs"], fields["Seccomp"]
	if cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", c.Rec.Pid)); err == nil {
		r.Cgroup = strings.TrimSpace(string(cg))
	}
	cfg, err := c.Rec.Spec() // decoded, or refused, by Verify already
	if err != nil {
		return err
	}
	if cfg == nil || cfg.Process == nil {
		return nil
	}
	p := cfg.Process
	wantBnd := uint64(0)
	if p.Capabilities != nil {
		for _, name := range p.Capabilities.Bounding {
			for _, cp := range capability.List() {
				if "CAP_"+strings.ToUpper(cp.String()) == strings.ToUpper(name) {
					wantBnd |= 1 << uint(cp)
				}
			}
		}
	}
	if got, err := strconv.ParseUint(r.CapBnd, 16, 64); err != nil || got&^wantBnd != 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("bounding set %s holds capabilities the config does not grant (%016x)", r.CapBnd, wantBnd))
	}
	if p.NoNewPrivileges && r.NoNewPrivs != "1" {
		r.Problems = append(r.Problems, "no_new_privs is not set")
	}
	// init loads a no_new_privs seccomp profile right before it execs the
	// user process, so a created container shows none yet.
	if cfg.Linux != nil && cfg.Linux.Seccomp != nil && r.Seccomp != "2" && !(r.Status == Created && p.NoNewPrivileges) {
		r.Problems = append(r.Problems, "seccomp filter is not in effect")
	}
	return nil
}
