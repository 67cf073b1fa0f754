package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// joinNS points the config's entry of kind k at path (adding it if absent).
func joinNS(s *specs.Spec, k specs.LinuxNamespaceType, path string) {
	for i := range s.Linux.Namespaces {
		if s.Linux.Namespaces[i].Type == k {
			s.Linux.Namespaces[i].Path = path
			return
		}
	}
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: k, Path: path})
}

func nsOf(t *testing.T, pid int, name string) string {
	t.Helper()
	l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, name))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestSharedNetworkNamespace: a second container joins the first's net
// namespace by path and sees its interfaces; a third, with its own, does not.
func TestSharedNetworkNamespace(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("a", "strict", sleeper)
	e.must("run", "-d", "--bundle", b, "a")
	a := e.state("a").Pid
	netPath := fmt.Sprintf("/proc/%d/ns/net", a)
	// A test address (RFC 2544 range) on a's loopback marks its netns.
	if out, err := exec.Command("nsenter", "--net="+netPath, "ip", "addr", "add", "198.18.250.7/32", "dev", "lo").CombinedOutput(); err != nil {
		t.Fatalf("add an address in a's netns: %v %s", err, out)
	}
	list := []string{"sh", "-c", "ip -o addr | grep -c 198.18.250.7; readlink /proc/self/ns/net"}
	bb := e.bundle("b", "strict", func(s *specs.Spec) { s.Process.Args = list; joinNS(s, specs.NetworkNamespace, netPath) })
	r := e.must("run", "--bundle", bb, "b")
	if r.stdout != "1\n"+nsOf(t, a, "net")+"\n" {
		t.Fatalf("b, joined to a's netns, sees:\n%s", r.stdout)
	}
	bc := e.bundle("c", "strict", func(s *specs.Spec) { s.Process.Args = list })
	r = e.rung("run", "--bundle", bc, "c")
	if strings.HasPrefix(r.stdout, "1\n") || strings.Contains(r.stdout, nsOf(t, a, "net")) {
		t.Fatalf("c, with its own netns, sees a's: %q", r.stdout)
	}
	// A pod-like second container, kept running: verify reports the join.
	bd := e.bundle("d", "strict", func(s *specs.Spec) { sleeper(s); joinNS(s, specs.NetworkNamespace, netPath) })
	e.must("run", "-d", "--bundle", bd, "d")
	st := e.state("d")
	if strings.Join(st.Isolation.Joined, ",") != "network" || st.Isolation.Rung != "strict" {
		t.Fatalf("isolation of d: %+v", st.Isolation)
	}
	v := e.must("verify", "d")
	if !strings.Contains(v.stdout, "network    joined  joined") {
		t.Fatalf("verify d:\n%s", v.stdout)
	}
	e.must("delete", "-f", "d")
	e.must("delete", "-f", "a")
	e.noLeftovers("a")
}

// TestJoinEachKind joins one kind at a time from a container that has all
// kinds but user new, and checks the joiner's namespace from the host.
func TestJoinEachKind(t *testing.T) {
	// a lives in an env of its own, so each joiner's leftover check sees
	// only the joiner.
	ea := newEnv(t)
	ba := ea.bundle("a", "strict", func(s *specs.Spec) {
		sleeper(s)
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
	})
	ea.must("run", "-d", "--bundle", ba, "a")
	a := ea.state("a").Pid
	e := newEnv(t)
	for _, tc := range []struct {
		kind specs.LinuxNamespaceType
		proc string
	}{
		{specs.NetworkNamespace, "net"}, {specs.IPCNamespace, "ipc"}, {specs.UTSNamespace, "uts"},
		{specs.CgroupNamespace, "cgroup"}, {specs.PIDNamespace, "pid"}, {specs.TimeNamespace, "time"},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			id := "j-" + tc.proc
			b := e.bundle(id, "strict", func(s *specs.Spec) {
				sleeper(s)
				joinNS(s, tc.kind, fmt.Sprintf("/proc/%d/ns/%s", a, tc.proc))
				if tc.kind == specs.UTSNamespace {
					s.Hostname = "" // a's hostname is a's
				}
			})
			e.must("run", "-d", "--bundle", b, id)
			j := e.state(id).Pid
			for _, other := range []string{"net", "ipc", "uts", "pid", "mnt"} {
				same := nsOf(t, j, other) == nsOf(t, a, other)
				if same != (other == tc.proc) {
					t.Errorf("%s namespace shared with a: %v, want %v", other, same, other == tc.proc)
				}
			}
			if tc.proc == "cgroup" || tc.proc == "time" {
				if nsOf(t, j, tc.proc) != nsOf(t, a, tc.proc) {
					t.Errorf("%s namespace not joined", tc.proc)
				}
			}
			if r := e.rung("verify", id); r.code != 0 {
				t.Errorf("verify %s: %s %s", id, r.stdout, r.stderr)
			}
			e.must("delete", "-f", id)
			e.noLeftovers(id)
		})
	}
	ea.must("delete", "-f", "a")
}

// TestJoinMountNamespace: a mount namespace that still sees the bundle (a
// copy of the host's, as an engine's sandbox may hold) can be joined; the
// rootfs is built inside it, and the host's own mount table stays clean.
func TestJoinMountNamespace(t *testing.T) {
	e := newEnv(t)
	holder := exec.Command("unshare", "--mount", "--propagation", "private", "sleep", "1000")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	mnt := fmt.Sprintf("/proc/%d/ns/mnt", holder.Process.Pid)
	deadline := time.Now().Add(5 * time.Second)
	for nsOf(t, holder.Process.Pid, "mnt") == nsOf(t, os.Getpid(), "mnt") {
		if time.Now().After(deadline) {
			t.Fatal("unshare never entered its mount namespace")
		}
		time.Sleep(10 * time.Millisecond)
	}
	b := e.bundle("b", "strict", func(s *specs.Spec) { sleeper(s); joinNS(s, specs.MountNamespace, mnt) })
	e.must("run", "-d", "--bundle", b, "m")
	if got := nsOf(t, e.state("m").Pid, "mnt"); got != nsOf(t, holder.Process.Pid, "mnt") {
		t.Fatalf("container mnt %s, holder's %s", got, nsOf(t, holder.Process.Pid, "mnt"))
	}
	if r := e.rung("verify", "m"); r.code != 0 {
		t.Fatalf("verify: %s %s", r.stdout, r.stderr)
	}
	e.must("delete", "-f", "m")
	e.noLeftovers("m")
}

// TestJoinUserNamespace: a container joins another's user namespace and
// creates its other namespaces inside it; the uid map seen from inside is
// the first container's.
func TestJoinUserNamespace(t *testing.T) {
	ea := newEnv(t)
	ba := ea.bundle("a", "quantum", sleeper)
	ea.must("run", "-d", "--bundle", ba, "a")
	a := ea.state("a").Pid
	e := newEnv(t)
	bb := e.bundle("b", "quantum", func(s *specs.Spec) {
		s.Process.Args = []string{"/bin/probe"}
		s.Process.Env = append(s.Process.Env, "GODEBUG=containermaxprocs=0,updatemaxprocs=0")
		joinNS(s, specs.UserNamespace, fmt.Sprintf("/proc/%d/ns/user", a))
	})
	r := e.must("run", "--bundle", bb, "b")
	if !strings.Contains(r.stdout, `"uidMap":"0 100000 65536"`) || !strings.Contains(r.stdout, `"user":"`+nsOf(t, a, "user")+`"`) {
		t.Fatalf("b in a's user namespace reports: %s", r.stdout)
	}
	if !strings.Contains(r.stdout, `"pid":1,`) || strings.Contains(r.stdout, `"pid":"`+nsOf(t, a, "pid")) {
		t.Fatalf("b's own pid namespace: %s", r.stdout)
	}
	e.noLeftovers("b")
	// Kept running, the join is proven by verify: the user namespace is
	// a's, the others b's own.
	bv := e.bundle("v", "quantum", func(s *specs.Spec) {
		sleeper(s)
		joinNS(s, specs.UserNamespace, fmt.Sprintf("/proc/%d/ns/user", a))
	})
	e.must("run", "-d", "--bundle", bv, "v")
	v := e.must("verify", "--format", "json", "v")
	if !strings.Contains(v.stdout, `{"kind":"user","want":"joined","found":"joined"`) || !strings.Contains(v.stdout, `{"kind":"pid","want":"new","found":"new"`) {
		t.Fatalf("verify of a joined user namespace: %s", v.stdout)
	}
	e.must("delete", "-f", "v")
	e.noLeftovers("v")
	ea.must("delete", "-f", "a")
}

func TestJoinBadPaths(t *testing.T) {
	e := newEnv(t)
	regular := filepath.Join(e.dir, "regular")
	os.WriteFile(regular, nil, 0o644)
	for _, tc := range []struct {
		name, path, want string
	}{
		{"regular file", regular, "not a namespace file"},
		{"wrong kind", "/proc/self/ns/ipc", "is a ipc namespace"},
		{"missing", "/proc/999999999/ns/net", "no such file or directory"},
		{"relative", "proc/self/ns/net", "not an absolute path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := e.bundle("b-"+strings.ReplaceAll(tc.name, " ", ""), "strict", func(s *specs.Spec) {
				sleeper(s)
				joinNS(s, specs.NetworkNamespace, tc.path)
			})
			if !failed(t, "create", e.rung("create", "--bundle", b, "bad"), "linux.namespaces[2].path", tc.want) {
				t.FailNow()
			}
			e.noLeftovers("bad")
		})
	}
}

// TestHostNamespaceRefusedAtMinRung: joining the host's net namespace
// reads as not isolating: refused at --min-isolation strict, and verify of
// such a container reports network as shared.
func TestHostNamespaceRefusedAtMinRung(t *testing.T) {
	e := newEnv(t)
	host := fmt.Sprintf("/proc/%d/ns/net", os.Getpid())
	b := e.bundle("b", "strict", func(s *specs.Spec) { sleeper(s); joinNS(s, specs.NetworkNamespace, host) })
	e.mustFail(t, "missing network", "create", "--bundle", b, "--min-isolation", "strict", "h")
	e.noLeftovers("h")
	e.must("run", "-d", "--bundle", b, "h")
	if st := e.state("h"); st.Isolation.Rung != "standard" {
		t.Fatalf("host netns reads as %s", st.Isolation.Rung)
	}
	v := e.must("verify", "--format", "json", "h")
	if !strings.Contains(v.stdout, `{"kind":"network","want":"joined","found":"shared"`) {
		t.Fatalf("verify: %s", v.stdout)
	}
	e.must("delete", "-f", "h")
}

// TestSharedPidNamespaceLeftovers: a container that joins another's pid
// namespace (a pod's container, joining the sandbox's) can leave
// processes behind when its init dies: they are reparented to the
// namespace's init and stay in the container's cgroup. As with runc,
// kill --all of the stopped container still signals them (the runc shim
// relies on it) and delete kills them before it removes the cgroup.
func TestSharedPidNamespaceLeftovers(t *testing.T) {
	ea := newEnv(t)
	ba := ea.bundle("sandbox", "strict", func(s *specs.Spec) {
		s.Process.Args = []string{"sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1000 & wait $!; done"}
	})
	ea.must("run", "-d", "--bundle", ba, "sandbox")
	defer ea.must("delete", "-f", "sandbox")
	pidNS := fmt.Sprintf("/proc/%d/ns/pid", ea.state("sandbox").Pid)

	e := newEnv(t)
	// cgroupProcs reads the pids in container id's pids cgroup.
	cgroupProcs := func(id string) []string {
		d := controllerDir(id, "pids")
		if d == "" {
			t.Fatal("no pids cgroup")
		}
		data, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			t.Fatalf("read %s: %v", d, err)
		}
		return strings.Fields(string(data))
	}
	// orphans starts id, whose init forks two sleeps and is then killed
	// alone: the sleeps outlive it.
	orphans := func(id string) {
		b := e.bundle(id, "strict", func(s *specs.Spec) {
			s.Process.Args = []string{"sh", "-c", "sleep 1000 & sleep 1000 & wait"}
			joinNS(s, specs.PIDNamespace, pidNS)
		})
		e.must("run", "-d", "--bundle", b, id)
		deadline := time.Now().Add(5 * time.Second)
		for len(cgroupProcs(id)) != 3 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: cgroup holds %v, want sh and two sleeps", id, cgroupProcs(id))
			}
			time.Sleep(10 * time.Millisecond)
		}
		e.must("kill", id, "KILL")
		e.waitStatus(id, specs.StateStopped)
		if left := cgroupProcs(id); len(left) != 2 {
			t.Fatalf("%s: after its init died the cgroup holds %v, want the two sleeps", id, left)
		}
	}

	orphans("k")
	e.mustFail(t, "container not running", "kill", "k", "KILL")
	if r := e.rung("kill", "--all", "k", "KILL"); r.code != 0 || r.stderr != "" {
		t.Fatalf("kill --all of a stopped container: exit %d %q, want 0 and no message", r.code, r.stderr)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(cgroupProcs("k")) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("kill --all left %v in the cgroup", cgroupProcs("k"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.must("delete", "k")
	e.noLeftovers("k")

	orphans("d")
	e.must("delete", "d")
	e.noLeftovers("d")
}
