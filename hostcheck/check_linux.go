package hostcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rungrt/rung/libns"
)

// Options are what the caller may choose.
type Options struct {
	// User is the unprivileged user a root caller probes for, by name or
	// uid ("" means nobody). A caller that is not root is that user itself.
	User string
}

// ProbeArg is the argument under which rung re-executes itself as the
// unprivileged user to probe what that user can create; main dispatches
// it to ProbeMain.
const ProbeArg = "hostcheck-probe"

// probeTimeout bounds the unprivileged probe process.
const probeTimeout = 10 * time.Second

// Run probes the host. It fails only on bad options or when the report
// itself cannot be made; every probe that fails is part of the report.
func Run(opts Options) (*Report, error) {
	r := &Report{Notes: []string{}}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return nil, fmt.Errorf("uname: %w", err)
	}
	r.Kernel = unix.ByteSliceToString(uts.Release[:])

	uid := os.Geteuid()
	r.Caller = Caller{UID: uid, Root: uid == 0, User: userName(uid)}
	var unpriv *user.User
	if r.Caller.Root {
		u, err := lookupUnprivileged(opts.User)
		if err != nil {
			return nil, err
		}
		unpriv = u
	} else if opts.User != "" && opts.User != r.Caller.User && opts.User != strconv.Itoa(uid) {
		return nil, fmt.Errorf("--user %s: only root can probe for another user", opts.User)
	}

	// The unprivileged probe runs in its own process: start it first so
	// it overlaps with the rest.
	var wg sync.WaitGroup
	var unprivNS map[libns.Kind]Probe
	if r.Caller.Root {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unprivNS = probeAsUser(unpriv)
		}()
	}

	cg, err := probeCgroups()
	if err != nil {
		return nil, fmt.Errorf("read cgroup mounts: %w", err)
	}
	r.Cgroup = cg
	r.Systemd = probeSystemd(r.Caller.Root)
	r.UserNS = probeUserNSKnobs()
	r.Seccomp = probeSeccomp()
	r.Syscalls = probeSyscalls(cg)

	rootNS := map[libns.Kind]Probe{}
	if r.Caller.Root {
		rootNS = probeNamespaces(false)
		wg.Wait()
		uidU, _ := strconv.Atoi(unpriv.Uid)
		r.Unprivileged = Access{User: unpriv.Username, UID: uidU}
	} else {
		unprivNS = probeNamespaces(true)
		r.Unprivileged = Access{User: r.Caller.User, UID: uid}
		for _, k := range libns.AllKinds() {
			rootNS[k] = unknown("not probed: the caller is not root")
		}
	}
	r.Root = Access{User: "root", UID: 0}
	r.Root.Namespaces, r.Root.Rungs = names(rootNS), Ladder(rootNS, false, r.Syscalls)
	r.Root.Highest = highest(r.Root.Rungs)
	r.Unprivileged.Namespaces, r.Unprivileged.Rungs = names(unprivNS), Ladder(unprivNS, true, r.Syscalls)
	r.Unprivileged.Highest = highest(r.Unprivileged.Rungs)
	r.UserNS.SubordinateIDs = probeSubIDs(r.Unprivileged.User, r.Unprivileged.UID)

	r.Notes = append(r.Notes,
		"rootless: the unprivileged rungs are what rung can run for that user here (always with a user namespace; several mappings when multiRange says yes); without a cgroup delegated to the user, limits, pause, resume, update and events are refused (the systemd user bus is not used yet)",
		"rung refuses linux.seccomp.listenerPath (seccomp notify) whatever userNotif says")
	return r, nil
}

func names(m map[libns.Kind]Probe) map[string]Probe {
	out := make(map[string]Probe, len(m))
	for k, p := range m {
		out[k.String()] = p
	}
	return out
}

func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}

// lookupUnprivileged resolves the user a root caller probes for.
func lookupUnprivileged(name string) (*user.User, error) {
	if name == "" {
		u, err := user.Lookup("nobody")
		if err != nil {
			// The overflow id every distribution calls nobody.
			return &user.User{Username: "nobody", Uid: "65534", Gid: "65534"}, nil
		}
		return u, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		if _, nerr := strconv.ParseUint(name, 10, 32); nerr != nil {
			return nil, fmt.Errorf("--user %s: %w", name, err)
		}
		if u, err = user.LookupId(name); err != nil {
			u = &user.User{Username: name, Uid: name, Gid: name}
		}
	}
	if u.Uid == "0" {
		return nil, fmt.Errorf("--user %s: root is not an unprivileged user", name)
	}
	return u, nil
}

// probeAsUser re-executes rung as u, without capabilities or
// supplementary groups, to create each namespace kind as that user would.
func probeAsUser(u *user.User) map[libns.Kind]Probe {
	fail := func(p Probe) map[libns.Kind]Probe {
		out := map[libns.Kind]Probe{}
		for _, k := range libns.AllKinds() {
			out[k] = p
		}
		return out
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return fail(unknown("user " + u.Username + " has no numeric uid/gid"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/proc/self/exe", ProbeArg)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}},
		Pdeathsig:  syscall.SIGKILL,
	}
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return fail(unknown("probe as " + u.Username + ": " + msg))
	}
	var got map[string]Probe
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		return fail(unknown("probe as " + u.Username + ": bad answer: " + err.Error()))
	}
	out := map[libns.Kind]Probe{}
	for _, k := range libns.AllKinds() {
		p, ok := got[k.String()]
		if !ok {
			p = unknown("probe as " + u.Username + ": no answer")
		}
		out[k] = p
	}
	return out
}

// ProbeMain is the unprivileged side of probeAsUser: it prints, as JSON,
// which namespace kinds this process can create inside a new user
// namespace, and exits.
func ProbeMain() {
	if os.Geteuid() == 0 {
		fmt.Fprintln(os.Stderr, "rung "+ProbeArg+": must not run as root")
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(names(probeNamespaces(true))); err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}
