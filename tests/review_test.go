package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The attacks of issue 15's security review (section 6) and their kin:
// each test performs one against the built binary.

// fdEscape lists what a container process finds at fds 3..5 and tries to
// create a file next to each, through /proc/self/fd/N/.. .
const fdEscape = `for n in 3 4 5; do
	if [ -e /proc/self/fd/$n ]; then echo "LEAK fd $n: $(readlink /proc/self/fd/$n)"; fi
	touch /proc/self/fd/$n/../escaped 2>/dev/null
done; true`

// TestPreserveFdsNotPassed: --preserve-fds 3 from a caller that passed no
// fd at all. Before the fix the container got whatever rung itself had
// open at 3, 4 and 5 (the Go runtime's host cgroup cpu files and the
// state directory) and created a file on the host beside the state
// directory. Now rung refuses, naming --preserve-fds.
func TestPreserveFdsNotPassed(t *testing.T) {
	e := newEnv(t)
	check := func(what string, r result) {
		t.Helper()
		if strings.Contains(r.stdout, "LEAK") {
			t.Errorf("%s: the container got rung's own fds:\n%s", what, r.stdout)
		}
		failed(t, what, r, "--preserve-fds")
		if _, err := os.Stat(filepath.Join(e.root, "escaped")); err == nil {
			t.Errorf("%s: the container created a file on the host, in the state root", what)
		}
	}
	// exec.Command passes stdio only: rung's fds 3, 4 and 5 are closed.
	b := e.bundle("b", "strict", func(s *specs.Spec) { s.Process.Args = []string{"sh", "-c", fdEscape} })
	check("run", e.rung("run", "--preserve-fds", "3", "--bundle", b, "pfrun"))
	e.noLeftovers("pfrun")

	bd := e.bundle("d", "strict", sleeper)
	e.must("run", "-d", "--bundle", bd, "pfexec")
	check("exec", e.rung("exec", "--preserve-fds", "3", "pfexec", "sh", "-c", fdEscape))
	e.must("delete", "-f", "pfexec")
	e.noLeftovers("pfexec")
}

// runcRun runs runc, the reference, on bundle b with a state root of its
// own. runc is a dependency of the suite (.ci/run installs it).
func (e *env) runcRun(b, id string) result {
	e.t.Helper()
	runc, err := exec.LookPath("runc")
	if err != nil {
		e.t.Fatalf("runc, the reference runtime, is missing: %v", err)
	}
	return run(exec.Command(runc, "--root", filepath.Join(e.dir, "runc"), "run", "--bundle", b, id))
}

// TestStartContainerHookUnderSeccomp: a startContainer hook runs in the
// container under its seccomp filter, as runc runs it (issue 17 item 7),
// and without the O_PATH handle on the host's exec.fifo (issue 15 §6.5).
// Before the fix the hook ran before the filter was loaded: a profile
// that kills mkdir did not stop a hook running mkdir, and the hook had
// fd 4 on the state directory's exec.fifo.
func TestStartContainerHookUnderSeccomp(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "strict", func(s *specs.Spec) {
		s.Process.Args = []string{"true"}
		s.Root.Readonly = false
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActKill}},
		}
		s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{
			{Path: "/bin/sh", Args: []string{"sh", "-c", `for n in 3 4 5 6 7 8 9; do
				[ -e /proc/self/fd/$n ] && echo "$n $(readlink /proc/self/fd/$n)"; done > /tmp/hookfds; true`}},
			{Path: "/bin/mkdir", Args: []string{"mkdir", "/tmp/hookdir"}},
		}}
	})
	hookdir := filepath.Join(b, "rootfs/tmp/hookdir")
	ref := e.runcRun(b, "sc-runc")
	if ref.code == 0 {
		t.Fatalf("runc ran the mkdir hook under a filter that kills mkdir: %s", ref.stderr)
	}
	os.Remove(hookdir)
	r := e.rung("run", "--bundle", b, "sc")
	failed(t, fmt.Sprintf("rung run, want a startContainer hook #1 killed by seccomp (runc: exit %d %s)", ref.code, ref.stderr), r, "startContainer hook #1", "bad system call")
	if _, err := os.Stat(hookdir); err == nil {
		t.Errorf("the hook ran mkdir despite the filter")
	}
	fds, err := os.ReadFile(filepath.Join(b, "rootfs/tmp/hookfds"))
	if err != nil {
		t.Fatalf("first hook did not run: %v", err)
	}
	if strings.Contains(string(fds), "exec.fifo") || strings.Contains(string(fds), e.root) {
		t.Errorf("a startContainer hook got a runtime fd:\n%s", fds)
	}
	e.noLeftovers("sc")
}

// TestExecAfterInitUnsharedMountNS: a container without a mount namespace
// whose init (holding CAP_SYS_ADMIN) unshares one of its own, a copy of
// the host's mounts. Before the fix a later exec joined that namespace,
// without the chroot into the container's rootfs, and ran on (a copy of)
// the host's /, where it could write host files. exec now decides from
// the state record that the container lives in its copy of the rootfs,
// cannot prove init's root is still that copy, and refuses.
func TestExecAfterInitUnsharedMountNS(t *testing.T) {
	e := newEnv(t)
	b := e.hostNSBundle("b", func(s *specs.Spec) {
		s.Process.Args = []string{"unshare", "-m", "sleep", "1000"}
		for _, set := range []*[]string{&s.Process.Capabilities.Bounding, &s.Process.Capabilities.Effective, &s.Process.Capabilities.Permitted} {
			*set = append(*set, "CAP_SYS_ADMIN")
		}
	})
	e.must("run", "-d", "--bundle", b, "um")
	pid := e.state("um").Pid
	ours := hostNS(t)["mnt"]
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid))
		if l != "" && l != ours {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container's init did not unshare its mount namespace: %s", l)
		}
		time.Sleep(10 * time.Millisecond)
	}
	escaped := filepath.Join(e.dir, "escaped")
	// Several tries: the old binary's exec raced its own namespace check
	// and got through only now and then.
	for i := 0; i < 20; i++ {
		r := e.rung("exec", "um", "sh", "-c", "test -d "+e.dir+" && echo ON-HOST; touch "+escaped)
		if strings.Contains(r.stdout, "ON-HOST") {
			t.Fatalf("try %d: exec ran on the host's /", i)
		}
		if _, err := os.Stat(escaped); err == nil {
			t.Fatalf("try %d: exec wrote a file on the host", i)
		}
		failed(t, fmt.Sprintf("try %d: exec (the container's root cannot be proven)", i), r, "no longer its rootfs")
	}
	e.must("delete", "-f", "um")
	e.noLeftovers("um")
}

// TestExecWithoutPidNamespace: exec into a container that has a mount
// namespace but no pid namespace joins without a fork. The old binary
// verified the joins while the joining constructor might still be
// running, and most such execs failed with "process is not in the
// namespace it joined"; the constructor now reports when it has joined.
func TestExecWithoutPidNamespace(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "standard", sleeper)
	e.must("run", "-d", "--bundle", b, "np")
	for i := 0; i < 20; i++ {
		if r := e.rung("exec", "np", "true"); r.code != 0 {
			t.Fatalf("try %d: exec: exit %d: %s", i, r.code, r.stderr)
		}
	}
	e.must("delete", "-f", "np")
	e.noLeftovers("np")
}

// TestSELinuxLabelsRefusedWithoutSELinux: this host has SELinux disabled.
// The old binary asked whether SELinux was enabled only after pivot_root,
// in the container's /sys, and ran every labelled container unconfined;
// exec and linux.mountLabel never looked. A label that cannot be applied
// is now refused, naming the field, for run and for exec --process (runc
// refuses process.selinuxLabel with the same words; it fails on
// linux.mountLabel too, when the kernel rejects the context= option).
func TestSELinuxLabelsRefusedWithoutSELinux(t *testing.T) {
	var fs unix.Statfs_t
	if unix.Statfs("/sys/fs/selinux", &fs) == nil && fs.Type == unix.SELINUX_MAGIC {
		t.Fatal("this test needs a host with SELinux disabled: on this host a made-up label is no attack")
	}
	e := newEnv(t)
	const label = "system_u:system_r:container_t:s0:c1,c2"
	const want = "selinux label is specified in config, but selinux is disabled or not supported"
	for _, field := range []string{"process.selinuxLabel", "linux.mountLabel"} {
		b := e.bundle(strings.ReplaceAll(field, ".", "-"), "strict", func(s *specs.Spec) {
			s.Process.Args = []string{"true"}
			if field == "process.selinuxLabel" {
				s.Process.SelinuxLabel = label
			} else {
				s.Linux.MountLabel = label
			}
		})
		if field == "process.selinuxLabel" {
			failed(t, "runc run", e.runcRun(b, "sl-runc"), want)
		}
		r := e.rung("run", "--bundle", b, "sl")
		failed(t, "run with "+field, r, field, want)
		e.noLeftovers("sl")
	}
	bd := e.bundle("d", "strict", sleeper)
	e.must("run", "-d", "--bundle", bd, "slx")
	p := specs.Process{Args: []string{"true"}, Cwd: "/", Env: []string{"PATH=/bin"}, SelinuxLabel: label}
	data, _ := json.Marshal(p)
	pf := filepath.Join(e.dir, "process.json")
	if err := os.WriteFile(pf, data, 0o644); err != nil {
		t.Fatal(err)
	}
	failed(t, "exec --process with process.selinuxLabel", e.rung("exec", "--process", pf, "slx"), "process.selinuxLabel", want)
	e.must("delete", "-f", "slx")
	e.noLeftovers("slx")
}

// withoutDevTmpfs drops the /dev mount (and keeps /dev/pts, /dev/shm and
// /dev/mqueue): legal, and what many minimal bundles do.
func withoutDevTmpfs(s *specs.Spec) {
	var mounts []specs.Mount
	for _, m := range s.Mounts {
		if filepath.Clean(m.Destination) != "/dev" {
			mounts = append(mounts, m)
		}
	}
	s.Mounts = mounts
}

// devReport prints what the container finds in /dev.
const devReport = `for d in null zero full random urandom tty; do stat -c "%n %F %t:%T %a" /dev/$d; done
for l in fd stdin stdout stderr ptmx; do echo "/dev/$l -> $(readlink /dev/$l)"; done
echo written > /dev/null && head -c 4 /dev/zero | wc -c`

// TestDefaultDevicesWithoutDevTmpfs (issue 15 §1): with no tmpfs on /dev
// the runtime still supplies the default devices and links, in the
// rootfs's own /dev, as runc does. The old binary failed: "open
// /dev/null: no such file or directory". The container's view is
// compared with runc's on an identical bundle.
func TestDefaultDevicesWithoutDevTmpfs(t *testing.T) {
	e := newEnv(t)
	edit := func(s *specs.Spec) {
		withoutDevTmpfs(s)
		s.Process.Args = []string{"sh", "-c", devReport}
	}
	ref := e.runcRun(e.bundle("runc", "strict", edit), "dev-runc")
	if ref.code != 0 {
		t.Fatalf("runc run: exit %d %s", ref.code, ref.stderr)
	}
	b := e.bundle("b", "strict", edit)
	r := e.rung("run", "--bundle", b, "dev")
	if r.code != 0 {
		t.Fatalf("run without a /dev tmpfs: exit %d %s", r.code, r.stderr)
	}
	if r.stdout != ref.stdout {
		t.Errorf("/dev differs from runc's:\nrung:\n%s\nrunc:\n%s", r.stdout, ref.stdout)
	}
	// Again, over the nodes the first run left in the rootfs.
	if r := e.rung("run", "--bundle", b, "dev"); r.code != 0 || r.stdout != ref.stdout {
		t.Errorf("second run: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	e.noLeftovers("dev")
}

// TestDevAttacksWithoutDevTmpfs: the rootfs's own /dev is the image's,
// and its entries may be hostile. Each attack is refused, naming the
// entry, and the host file or directory is left exactly as it was: never
// followed, written, truncated, chmod'ed or mounted on. (The old binary
// refused these too, but only because it could not run such a bundle at
// all: its errors were about a missing /dev/null.)
func TestDevAttacksWithoutDevTmpfs(t *testing.T) {
	e := newEnv(t)
	victim := filepath.Join(e.dir, "victim")
	unchanged := func(what string) {
		t.Helper()
		fi, err := os.Stat(victim)
		if data, _ := os.ReadFile(victim); err != nil || string(data) != "host file\n" || fi.Mode() != 0o600 {
			t.Errorf("%s: host file changed: %q %v %v", what, data, fi.Mode(), err)
		}
		if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), victim) {
			t.Errorf("%s: something is mounted on the host file", what)
		}
	}
	refused := func(what string, r result, entry string) {
		t.Helper()
		failed(t, what+" (a symlink refused)", r, entry, "symlink")
	}
	os.WriteFile(victim, []byte("host file\n"), 0o600)
	os.Chmod(victim, 0o600)

	// CVE-2025-31133: /dev/null a symlink to a host file.
	b := e.bundle("null", "strict", func(s *specs.Spec) { withoutDevTmpfs(s); sleeper(s) })
	os.Symlink(victim, filepath.Join(b, "rootfs/dev/null"))
	r := e.rung("create", "--bundle", b, "null")
	refused("/dev/null -> host file", r, "/dev/null")
	unchanged("/dev/null -> host file")
	e.noLeftovers("null")

	// CVE-2025-52565: /dev/console a symlink to a host file, with a terminal.
	sock, _ := consoleSocket(t, e.dir)
	b = e.bundle("console", "strict", func(s *specs.Spec) {
		withoutDevTmpfs(s)
		s.Process.Terminal = true
		sleeper(s)
	})
	os.Symlink(victim, filepath.Join(b, "rootfs/dev/console"))
	r = e.rung("create", "--bundle", b, "--console-socket", sock, "console")
	refused("/dev/console -> host file", r, "/dev/console")
	unchanged("/dev/console -> host file")
	e.noLeftovers("console")

	// /dev itself a symlink to a host directory.
	hostDev := filepath.Join(e.dir, "hostdev")
	os.MkdirAll(hostDev, 0o755)
	b = e.bundle("dev", "strict", func(s *specs.Spec) { withoutDevTmpfs(s); sleeper(s) })
	os.RemoveAll(filepath.Join(b, "rootfs/dev"))
	os.Symlink(hostDev, filepath.Join(b, "rootfs/dev"))
	r = e.rung("create", "--bundle", b, "dev")
	refused("/dev -> host directory", r, "/dev")
	if entries, _ := os.ReadDir(hostDev); len(entries) != 0 {
		t.Errorf("/dev -> host directory: the host directory got entries: %v", entries)
	}
	e.noLeftovers("dev")
}

// TestDevBindLeftAsIs: a /dev bound from the host brings its own nodes.
// The old binary made the default devices and links in it, that is in
// the host directory (unlinking what was there first); now nothing is
// added, as runc adds nothing.
func TestDevBindLeftAsIs(t *testing.T) {
	e := newEnv(t)
	for _, rt := range []string{"runc", "rung"} {
		src := filepath.Join(e.dir, "devsrc-"+rt)
		os.MkdirAll(src, 0o755)
		// runc needs a /dev/null to run at all.
		if err := unix.Mknod(filepath.Join(src, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
			t.Fatal(err)
		}
		var before unix.Stat_t
		unix.Lstat(filepath.Join(src, "null"), &before)
		b := e.bundle("b-"+rt, "strict", func(s *specs.Spec) {
			withoutDevTmpfs(s)
			s.Mounts = append([]specs.Mount{{Destination: "/dev", Type: "bind", Source: src, Options: []string{"rbind"}}}, s.Mounts...)
			s.Linux.MaskedPaths = nil
			s.Process.Args = []string{"true"}
		})
		var r result
		if rt == "runc" {
			r = e.runcRun(b, "bind-runc")
		} else {
			r = e.rung("run", "--bundle", b, "bind")
		}
		if r.code != 0 {
			t.Errorf("%s run: exit %d %s", rt, r.code, r.stderr)
		}
		entries, _ := os.ReadDir(src)
		var names []string
		for _, d := range entries {
			switch d.Name() {
			case "null", "pts", "shm", "mqueue": // the host's node, the config's own mount points
			default:
				names = append(names, d.Name())
			}
		}
		if len(names) != 0 {
			t.Errorf("%s: the bound host directory got entries: %v", rt, names)
		}
		var after unix.Stat_t
		if unix.Lstat(filepath.Join(src, "null"), &after); after.Ino != before.Ino {
			t.Errorf("%s: the host's node in the bound directory was replaced", rt)
		}
	}
	e.noLeftovers("bind")
}

// TestSeccompOutOfRangeRefused: the filter's return data is 16 bits and
// seccomp(2) takes at most BPF_MAXINSNS (4096) instructions, its length
// as 16 bits. The old binary cut errnoRet to 16 bits without a word
// (65537 became 1, EPERM; runc 1.1 does the same) and accepted an
// over-long program at create, to fail only at start. Each is now refused
// at create, naming the field.
func TestSeccompOutOfRangeRefused(t *testing.T) {
	e := newEnv(t)
	big, huge := uint(65537), uint(5000)
	cases := []struct {
		name string
		sc   specs.LinuxSeccomp
		want string
	}{
		{"errnoRet 65537", specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &big}}}, "errnoRet 65537"},
		{"errnoRet above MAX_ERRNO", specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &huge}}}, "errnoRet 5000"},
		{"defaultErrnoRet 65537", specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: &big,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActAllow}}}, "errnoRet 65537"},
	}
	long := specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
	for i := uint64(0); i < 3000; i++ {
		long.Syscalls = append(long.Syscalls, specs.LinuxSyscall{Names: []string{"personality"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: i<<33 + i*7 + 1, Op: specs.OpEqualTo}}})
	}
	cases = append(cases, struct {
		name string
		sc   specs.LinuxSeccomp
		want string
	}{"a program over 4096 instructions", long, "more than the kernel's limit of 4096"})
	for _, c := range cases {
		b := e.bundle(strings.ReplaceAll(c.name, " ", "-"), "strict", func(s *specs.Spec) {
			sleeper(s)
			s.Linux.Seccomp = &c.sc
		})
		r := e.rung("create", "--bundle", b, "sc")
		if r.code == 0 {
			e.rung("delete", "-f", "sc")
		}
		failed(t, c.name+": create", r, "linux.seccomp", c.want)
		e.noLeftovers("sc")
	}
}

// TestExecWithoutProc: exec learned its capabilities from
// /proc/self/status, the container's, after joining it: in a container
// without /proc exec failed, and a container could feed it a fake one.
// They are now read from the kernel (capget, prctl). (runc 1.1 cannot
// run a container without /proc at all: it closes fds through it.)
func TestExecWithoutProc(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "strict", func(s *specs.Spec) {
		var mounts []specs.Mount
		for _, m := range s.Mounts {
			if m.Destination != "/proc" {
				mounts = append(mounts, m)
			}
		}
		s.Mounts = mounts
		sleeper(s)
	})
	e.must("run", "-d", "--bundle", b, "noproc")
	r := e.rung("exec", "noproc", "sh", "-c", "test -e /proc/self/status || echo no-proc")
	if r.code != 0 || r.stdout != "no-proc\n" {
		t.Errorf("exec into a container without /proc: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	e.must("delete", "-f", "noproc")
	e.noLeftovers("noproc")
}
