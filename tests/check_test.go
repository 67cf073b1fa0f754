package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// checkReport is the part of rung check's JSON the tests read.
type checkReport struct {
	Kernel string `json:"kernel"`
	Caller struct {
		UID  int    `json:"uid"`
		Root bool   `json:"root"`
		User string `json:"user"`
	} `json:"caller"`
	Cgroup struct {
		Mode string `json:"mode"`
		V2   *struct {
			Mountpoint     string   `json:"mountpoint"`
			Controllers    []string `json:"controllers"`
			SubtreeControl []string `json:"subtreeControl"`
		} `json:"v2"`
		V1 []struct {
			Mountpoint  string   `json:"mountpoint"`
			Controllers []string `json:"controllers"`
		} `json:"v1"`
	} `json:"cgroup"`
	Systemd struct {
		Pid1      string     `json:"pid1"`
		Booted    bool       `json:"booted"`
		Reachable string     `json:"reachable"`
		SystemBus checkProbe `json:"systemBus"`
		Private   checkProbe `json:"private"`
		UserBus   checkProbe `json:"userBus"`
	} `json:"systemd"`
	UserNS struct {
		MaxUserNamespaces *int64 `json:"maxUserNamespaces"`
	} `json:"userNamespaces"`
	Seccomp struct {
		Actions   []string   `json:"actions"`
		UserNotif checkProbe `json:"userNotif"`
	} `json:"seccomp"`
	Syscalls     map[string]checkProbe `json:"syscalls"`
	Root         checkAccess           `json:"root"`
	Unprivileged checkAccess           `json:"unprivileged"`
}

type checkProbe struct {
	State  string `json:"state"`
	Reason string `json:"reason"`
}

type checkAccess struct {
	User       string                `json:"user"`
	UID        int                   `json:"uid"`
	Namespaces map[string]checkProbe `json:"namespaces"`
	Rungs      []struct {
		Rung string `json:"rung"`
		checkProbe
	} `json:"rungs"`
	Highest string `json:"highest"`
}

func (e *env) checkJSON(cmd *exec.Cmd) (checkReport, result) {
	e.t.Helper()
	r := run(cmd)
	var rep checkReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		e.t.Fatalf("rung check: exit %d, output not JSON: %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	return rep, r
}

// asNobody runs name as uid/gid 65534 without groups or capabilities.
func asNobody(name string, args ...string) *exec.Cmd {
	return exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", name}, args...)...)
}

// unshareFlag is unshare(1)'s option for each OCI namespace type.
var unshareFlag = map[string][]string{
	"mount": {"-m"}, "pid": {"-p", "-f"}, "network": {"-n"}, "ipc": {"-i"},
	"uts": {"-u"}, "user": {"-U"}, "cgroup": {"-C"}, "time": {"-T"},
}

// TestCheckAgreesWithTheHost runs rung check as root and checks each
// answer against what the test finds by its own means: the cgroup
// layout in /proc/self/mountinfo, each namespace kind created by
// unshare(1) as root and as nobody, seccomp's actions_avail, the kernel
// version for statmount, and systemd's sockets.
func TestCheckAgreesWithTheHost(t *testing.T) {
	e := newEnv(t)
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	rep, r := e.checkJSON(exec.Command(rungBin, "check", "--format", "json"))
	if r.code != 0 {
		t.Fatalf("rung check: exit %d: %s", r.code, r.stderr)
	}
	if !rep.Caller.Root || rep.Caller.UID != 0 {
		t.Errorf("caller %+v, want root", rep.Caller)
	}

	// cgroups, from mountinfo
	v1 := map[string]bool{}
	v2 := ""
	unified := false
	for _, line := range strings.Split(string(mounts), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		fstype := strings.Fields(post)[0]
		mp := strings.Fields(pre)[4]
		switch fstype {
		case "cgroup":
			v1[mp] = true
		case "cgroup2":
			if v2 == "" || mp == "/sys/fs/cgroup" {
				v2 = mp
			}
			unified = unified || mp == "/sys/fs/cgroup"
		}
	}
	wantMode := "none"
	switch {
	case unified && len(v1) == 0:
		wantMode = "unified"
	case len(v1) > 0 && v2 != "":
		wantMode = "hybrid"
	case len(v1) > 0:
		wantMode = "legacy"
	case v2 != "":
		wantMode = "unified"
	}
	if rep.Cgroup.Mode != wantMode {
		t.Errorf("cgroup mode %q, mountinfo says %q", rep.Cgroup.Mode, wantMode)
	}
	for _, h := range rep.Cgroup.V1 {
		if !v1[h.Mountpoint] {
			t.Errorf("v1 hierarchy at %s: not a cgroup mount in mountinfo", h.Mountpoint)
		}
		delete(v1, h.Mountpoint)
	}
	if len(v1) > 0 {
		t.Errorf("v1 hierarchies missing from the report: %v", v1)
	}
	if (rep.Cgroup.V2 == nil) != (v2 == "") || rep.Cgroup.V2 != nil && rep.Cgroup.V2.Mountpoint != v2 {
		t.Errorf("cgroup2 %+v, mountinfo has it at %q", rep.Cgroup.V2, v2)
	}
	if rep.Cgroup.V2 != nil {
		data, _ := os.ReadFile(v2 + "/cgroup.controllers")
		want := strings.Fields(string(data))
		if want == nil {
			want = []string{}
		}
		if !reflect.DeepEqual(rep.Cgroup.V2.Controllers, want) {
			t.Errorf("v2 controllers %q, cgroup.controllers has %q", rep.Cgroup.V2.Controllers, want)
		}
	}

	// namespaces, each created by unshare(1)
	for kind, flags := range unshareFlag {
		for _, who := range []struct {
			name string
			acc  checkAccess
			cmd  *exec.Cmd
		}{
			{"root", rep.Root, exec.Command("unshare", append(flags, "true")...)},
			// unprivileged, every kind comes with its user namespace
			{"nobody", rep.Unprivileged, asNobody("unshare", append(append([]string{"-U"}, flags...), "true")...)},
		} {
			out, err := who.cmd.CombinedOutput()
			want := "yes"
			if err != nil {
				want = "no"
			}
			if got := who.acc.Namespaces[kind]; got.State != want {
				t.Errorf("%s, %s namespace: rung check says %+v; unshare: %v %s", who.name, kind, got, err, out)
			}
		}
	}
	if rep.Unprivileged.User != "nobody" || rep.Unprivileged.UID != 65534 {
		t.Errorf("unprivileged user %s/%d, want nobody/65534", rep.Unprivileged.User, rep.Unprivileged.UID)
	}

	// seccomp
	avail, err := os.ReadFile("/proc/sys/kernel/seccomp/actions_avail")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rep.Seccomp.Actions, strings.Fields(string(avail))) {
		t.Errorf("seccomp actions %q, actions_avail %q", rep.Seccomp.Actions, avail)
	}
	if (rep.Seccomp.UserNotif.State == "yes") != strings.Contains(string(avail), "user_notif") {
		t.Errorf("userNotif %+v with actions_avail %q", rep.Seccomp.UserNotif, avail)
	}

	// The mount API and pidfd_open are what every container start uses,
	// and the suite starts containers: they are here.
	for _, name := range []string{"openTree", "moveMount", "mountSetattr", "pidfdOpen", "clone3"} {
		if p := rep.Syscalls[name]; p.State != "yes" {
			t.Errorf("%s: %+v", name, p)
		}
	}
	var uts unix.Utsname
	unix.Uname(&uts)
	var major, minor int
	fmt.Sscanf(unix.ByteSliceToString(uts.Release[:]), "%d.%d", &major, &minor)
	if got, want := rep.Syscalls["statmount"].State == "yes", major > 6 || major == 6 && minor >= 8; got != want {
		t.Errorf("statmount %+v on Linux %d.%d", rep.Syscalls["statmount"], major, minor)
	}
	if rep.Kernel != unix.ByteSliceToString(uts.Release[:]) {
		t.Errorf("kernel %q", rep.Kernel)
	}

	// systemd: where neither socket exists it is unreachable, and says why.
	_, errBus := os.Stat("/run/dbus/system_bus_socket")
	_, errPriv := os.Stat("/run/systemd/private")
	if errBus != nil && errPriv != nil {
		if rep.Systemd.Reachable != "no" || rep.Systemd.SystemBus.State != "no" || rep.Systemd.Private.State != "no" ||
			!strings.Contains(rep.Systemd.Private.Reason, "no such file") {
			t.Errorf("systemd without its sockets: %+v", rep.Systemd)
		}
	}
	comm, _ := os.ReadFile("/proc/1/comm")
	// Where systemd is PID 1 with its private socket (the VM), root
	// reaches it there.
	if errPriv == nil && strings.TrimSpace(string(comm)) == "systemd" {
		if rep.Systemd.Reachable != "yes" || rep.Systemd.Private.State != "yes" {
			t.Errorf("systemd is PID 1, yet: %+v", rep.Systemd)
		}
	}
	if rep.Systemd.Pid1 != strings.TrimSpace(string(comm)) {
		t.Errorf("pid1 %q, /proc/1/comm %q", rep.Systemd.Pid1, comm)
	}

	if rep.UserNS.MaxUserNamespaces == nil {
		t.Errorf("maxUserNamespaces missing")
	}

}

// TestCheckLeavesNothing runs rung check in a private mount namespace
// (other tests' mounts do not reach it) and compares its mounts before and
// after; and no probe process may outlive the check.
func TestCheckLeavesNothing(t *testing.T) {
	e := newEnv(t)
	before, after := e.dir+"/before", e.dir+"/after"
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c",
		`cat /proc/self/mountinfo > "$1" && "$RUNG" check --want quantum >/dev/null && cat /proc/self/mountinfo > "$2"`, "sh", before, after)
	cmd.Env = append(os.Environ(), "RUNG="+rungBin)
	if r := run(cmd); r.code != 0 {
		t.Fatalf("rung check in a private mount namespace: exit %d: %s", r.code, r.stderr)
	}
	b, _ := os.ReadFile(before)
	a, _ := os.ReadFile(after)
	if len(b) == 0 || string(a) != string(b) {
		t.Errorf("mounts changed across rung check:\nbefore:\n%s\nafter:\n%s", b, a)
	}
	if out, _ := exec.Command("pgrep", "-f", "hostcheck-probe").Output(); len(out) > 0 {
		t.Errorf("probe processes left: %s", out)
	}
}

// TestCheckText: the default format names the cgroup mode and prints both
// ladder columns, and --want quantum succeeds as root where root can
// create every namespace (as the suite's quantum containers show).
func TestCheckText(t *testing.T) {
	e := newEnv(t)
	rep, _ := e.checkJSON(exec.Command(rungBin, "check", "-f", "json"))
	r := run(exec.Command(rungBin, "check", "--want", "quantum"))
	if r.code != 0 {
		t.Fatalf("rung check --want quantum as root: exit %d: %s\n%s", r.code, r.stderr, r.stdout)
	}
	for _, want := range []string{
		"cgroup mode", rep.Cgroup.Mode, "systemd", "user namespaces", "seccomp", "open_tree", "CLONE_INTO_CGROUP",
		"RUNG", "ROOT", "NOBODY", "highest rung: root quantum",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text report lacks %q:\n%s", want, r.stdout)
		}
	}
	if r.stderr != "" {
		t.Errorf("stderr on success: %q", r.stderr)
	}
}

// TestCheckRefusesWhatUserNamespacesCannotGive runs rung check inside a
// user namespace whose user.max_user_namespaces is 0 (the limit is per
// user namespace and binds its descendants, so the host is untouched):
// root there can still make a strict container but not a quantum one,
// and an unprivileged user nothing above none. rung check must say so in
// its exit code, with the reason on stderr.
func TestCheckRefusesWhatUserNamespacesCannotGive(t *testing.T) {
	newEnv(t)
	capped := func(script string) result {
		cmd := exec.Command("sh", "-c", "echo 0 > /proc/sys/user/max_user_namespaces && "+script)
		cmd.Env = append(os.Environ(), "RUNG="+rungBin)
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags:                 syscall.CLONE_NEWUSER,
			UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}},
			GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}},
			GidMappingsEnableSetgroups: true,
		}
		return run(cmd)
	}
	// Without --want the exit code only says the report was made.
	if r := capped(`"$RUNG" check && setpriv --reuid=65534 --regid=65534 --clear-groups "$RUNG" check`); r.code != 0 {
		t.Errorf("no --want, user namespaces capped: exit %d, want 0: %s", r.code, r.stderr)
	}
	if r := capped(`"$RUNG" check --want strict`); r.code != 0 {
		t.Errorf("--want strict, user namespaces capped: exit %d, want 0: %s", r.code, r.stderr)
	}
	r := capped(`"$RUNG" check --want quantum`)
	if r.code != 1 {
		t.Errorf("--want quantum, user namespaces capped: exit %d, want 1\n%s", r.code, r.stdout)
	}
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 ||
		!strings.Contains(lines[0], "quantum is not possible here for root: user namespace: no space left on device") {
		t.Errorf("stderr: %q", r.stderr)
	}
	if !strings.Contains(r.stdout, "highest rung: root strict, nobody none") {
		t.Errorf("report:\n%s", r.stdout)
	}
	// The same, run by an unprivileged user.
	r = capped(`setpriv --reuid=65534 --regid=65534 --clear-groups "$RUNG" check --want standard`)
	if r.code != 1 || !strings.Contains(r.stderr, "standard is not possible here for nobody: user namespace") {
		t.Errorf("--want standard as nobody, user namespaces capped: exit %d: %s", r.code, r.stderr)
	}
}

// TestCheckAsUnprivilegedCaller runs rung check as nobody: it probes its
// own namespaces (through a user namespace), cannot probe root's, and its
// exit code for --want quantum follows what unshare(1) finds for nobody.
func TestCheckAsUnprivilegedCaller(t *testing.T) {
	e := newEnv(t)
	rep, r := e.checkJSON(asNobody(rungBin, "check", "--format", "json", "--want", "quantum"))
	if rep.Caller.Root || rep.Caller.UID != 65534 || rep.Unprivileged.UID != 65534 {
		t.Errorf("caller %+v, unprivileged %s/%d", rep.Caller, rep.Unprivileged.User, rep.Unprivileged.UID)
	}
	for kind, p := range rep.Root.Namespaces {
		if p.State != "unknown" {
			t.Errorf("root's %s namespace probed by nobody: %+v", kind, p)
		}
	}
	err := asNobody("unshare", "-U", "-m", "-p", "-f", "-n", "-i", "-u", "true").Run()
	if want := map[bool]int{true: 0, false: 1}[err == nil]; r.code != want {
		t.Errorf("--want quantum as nobody: exit %d, unshare says %v: %s", r.code, err, r.stderr)
	}
	if rep.Systemd.Private.State != "unknown" {
		t.Errorf("nobody probed systemd's private socket: %+v", rep.Systemd.Private)
	}
	if rep.Systemd.UserBus.State == "unknown" {
		t.Errorf("user bus not probed for nobody: %+v", rep.Systemd.UserBus)
	}
}

func TestCheckBadInput(t *testing.T) {
	newEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "--want", "bogus"}, `--want: unknown isolation rung`},
		{[]string{"check", "--format", "yaml"}, `invalid format option`},
		{[]string{"check", "--user", "root"}, "--user root: root is not an unprivileged user"},
		{[]string{"check", "--user", "no-such-user-here"}, "--user no-such-user-here"},
		{[]string{"check", "extra"}, "check requires 0 argument(s)"},
	} {
		r := run(exec.Command(rungBin, tc.args...))
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code != 1 || len(lines) != 1 || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("rung %s: exit %d, stdout %q, stderr %q; want exit 1 and one line with %q",
				strings.Join(tc.args, " "), r.code, r.stdout, r.stderr, tc.want)
		}
	}
	// A numeric --user that names no account is still a user to probe for.
	r := run(exec.Command(rungBin, "check", "--user", "54321", "-f", "json"))
	var rep checkReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 || rep.Unprivileged.UID != 54321 {
		t.Errorf("--user 54321: exit %d, %v, uid %d: %s", r.code, err, rep.Unprivileged.UID, r.stderr)
	}
	var names []string
	for k := range rep.Unprivileged.Namespaces {
		names = append(names, k)
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "cgroup,ipc,mount,network,pid,time,user,uts" {
		t.Errorf("namespace kinds %v", names)
	}
}

// TestCheckBusWithoutSystemd points rung check at a real D-Bus daemon on
// which no systemd runs, as the system bus (root) and as the user bus
// (nobody): rung connects, asks, and reports the bus's own answer (no
// such name), not a timeout.
func TestCheckBusWithoutSystemd(t *testing.T) {
	e := newEnv(t)
	sock := e.dir + "/bus.sock"
	conf := e.dir + "/bus.conf"
	// No service activation: the bus only routes between its clients.
	os.WriteFile(conf, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=`+sock+`</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`), 0o644)
	daemon := exec.Command("dbus-daemon", "--config-file="+conf, "--nofork", "--nopidfile", "--print-address")
	out, err := daemon.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := daemon.Start(); err != nil {
		t.Fatalf("dbus-daemon (make deps installs it): %v", err)
	}
	t.Cleanup(func() { daemon.Process.Kill(); daemon.Wait() })
	// It prints its address once it listens.
	if _, err := out.Read(make([]byte, 256)); err != nil {
		t.Fatalf("dbus-daemon did not start: %v", err)
	}
	addr := "unix:path=" + sock

	cmd := exec.Command(rungBin, "check", "-f", "json")
	cmd.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+addr)
	rep, r := e.checkJSON(cmd)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if p := rep.Systemd.SystemBus; p.State != "no" || !strings.Contains(p.Reason, "org.freedesktop.systemd1 was not provided") {
		t.Errorf("system bus without systemd: %+v", p)
	}

	cmd = asNobody("env", "DBUS_SESSION_BUS_ADDRESS="+addr, rungBin, "check", "-f", "json")
	rep, r = e.checkJSON(cmd)
	if r.code != 0 {
		t.Fatalf("as nobody: exit %d: %s", r.code, r.stderr)
	}
	if p := rep.Systemd.UserBus; p.State != "no" || !strings.Contains(p.Reason, "org.freedesktop.systemd1 was not provided") {
		t.Errorf("user bus without systemd: %+v", p)
	}
	// Where systemd runs (the VM), its private socket still answers.
	if want := map[bool]string{false: "no", true: "yes"}[systemdHost()]; rep.Systemd.Reachable != want {
		t.Errorf("reachable %q, want %q", rep.Systemd.Reachable, want)
	}
}
