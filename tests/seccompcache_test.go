package tests

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"github.com/rungrt/rung/tests/fixture"
)

// The compiled-filter cache (internal/seccompcache, issue 14): rung
// compiles linux.seccomp once per profile and state root, and later
// containers and execs load the stored program.

const seccompCacheDir = "@seccomp-cache"

// ptraceSeccompGetFilter is PTRACE_SECCOMP_GET_FILTER (linux/ptrace.h).
const ptraceSeccompGetFilter = 0x420c

// loadedFilters returns the cBPF programs the kernel holds for pid, the
// most recently loaded first, as the kernel got them from seccomp(2).
func loadedFilters(t *testing.T, pid int) [][]byte {
	t.Helper()
	goruntime.LockOSThread() // a tracer is a thread
	defer goruntime.UnlockOSThread()
	if err := unix.PtraceAttach(pid); err != nil {
		t.Fatalf("ptrace attach %d: %v", pid, err)
	}
	defer unix.PtraceDetach(pid)
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, unix.WALL, nil); err != nil || !ws.Stopped() {
		t.Fatalf("wait for %d to stop: %v %v", pid, ws, err)
	}
	var out [][]byte
	for i := 0; ; i++ {
		n, _, e := unix.Syscall6(unix.SYS_PTRACE, ptraceSeccompGetFilter, uintptr(pid), uintptr(i), 0, 0, 0)
		if e == unix.ENOENT {
			return out
		}
		if e != 0 || n == 0 {
			t.Fatalf("PTRACE_SECCOMP_GET_FILTER %d of %d: %d instructions, %v", i, pid, n, e)
		}
		buf := make([]byte, 8*n)
		if _, _, e := unix.Syscall6(unix.SYS_PTRACE, ptraceSeccompGetFilter, uintptr(pid), uintptr(i), uintptr(unsafe.Pointer(&buf[0])), 0, 0); e != 0 {
			t.Fatalf("PTRACE_SECCOMP_GET_FILTER %d of %d: %v", i, pid, e)
		}
		out = append(out, buf)
	}
}

// oneFilter is pid's only filter.
func oneFilter(t *testing.T, pid int) []byte {
	t.Helper()
	fs := loadedFilters(t, pid)
	if len(fs) != 1 {
		t.Fatalf("pid %d holds %d seccomp filters, want 1", pid, len(fs))
	}
	return fs[0]
}

// cacheEntries lists the entries (not temporary files) of root's cache.
func cacheEntries(t *testing.T, root string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(root, seccompCacheDir, strings.Repeat("[0-9a-f]", 64)))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// engineProfile is podman's default profile for a container with caps,
// as tests/bench runs it.
func engineProfile(t *testing.T, caps []string) *specs.LinuxSeccomp {
	t.Helper()
	m, err := fixture.EngineSeccomp(caps)
	if err != nil {
		t.Fatalf("the engine profile (make deps installs podman's): %v", err)
	}
	data, _ := json.Marshal(m)
	var sc specs.LinuxSeccomp
	if err := json.Unmarshal(data, &sc); err != nil {
		t.Fatal(err)
	}
	if len(sc.Syscalls) < 10 {
		t.Fatalf("the engine profile has %d rules", len(sc.Syscalls))
	}
	return &sc
}

// The program loaded from the cache is the program compiled: for an
// engine's default profile, an ENOSYS-stub profile, one with argument
// conditions and errno values, and one with a listener
// (SECCOMP_FILTER_FLAG_NEW_LISTENER, whose fd must still reach the
// agent), the filter the kernel holds for a container's process is the
// same, byte for byte, whether its create compiled it (empty cache) or
// loaded it, and so is the one of a process started by exec.
func TestSeccompCacheIdentical(t *testing.T) {
	e := newEnv(t)
	a := newAgent(t, filepath.Join(e.dir, "agent.sock"))
	eperm, enosys := uint(1), uint(38)
	// The stub profile allows every syscall up to rseq: busybox's sleep
	// needs a few, and the stub sends the newer ones ENOSYS.
	rseq, _ := libseccomp.GetSyscallFromName("rseq")
	var names []string
	for i := 0; i <= int(rseq); i++ {
		if n, err := libseccomp.ScmpSyscall(i).GetName(); err == nil {
			names = append(names, n)
		}
	}
	profiles := map[string]func(s *specs.Spec) *specs.LinuxSeccomp{
		"engine": func(s *specs.Spec) *specs.LinuxSeccomp { return engineProfile(t, s.Process.Capabilities.Bounding) },
		"enosys": func(*specs.Spec) *specs.LinuxSeccomp {
			return &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: &eperm,
				Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
				Syscalls:      []specs.LinuxSyscall{{Names: names, Action: specs.ActAllow}}}
		},
		"args": func(*specs.Spec) *specs.LinuxSeccomp {
			return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagSpecAllow},
				Syscalls: []specs.LinuxSyscall{
					{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &enosys},
					{Names: []string{"kill"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 1, Value: 0, Op: specs.OpEqualTo}}},
					{Names: []string{"personality"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0xff, ValueTwo: 8, Op: specs.OpMaskedEqual}}},
				}}
		},
		"notify": func(*specs.Spec) *specs.LinuxSeccomp { return notifyProfile(a.path) },
	}
	if goruntime.GOARCH != "amd64" {
		t.Fatalf("the enosys profile names x86 arches; write one for %s", goruntime.GOARCH)
	}
	for name, profile := range profiles {
		t.Run(name, func(t *testing.T) {
			os.RemoveAll(filepath.Join(e.root, seccompCacheDir))
			b := e.bundle(name, "", func(s *specs.Spec) {
				s.Process.Args = []string{"sleep", "1000"}
				s.Linux.Seccomp = profile(s)
			})
			var want []byte
			for i, verdict := range []string{"no usable cache entry", "taken from"} {
				id := fmt.Sprintf("sc-%s-%d", name, i)
				a.reset()
				r := e.rung("--debug", "create", "--bundle", b, id)
				if r.code != 0 {
					t.Fatalf("create %s: exit %d %s", id, r.code, r.stderr)
				}
				if !strings.Contains(r.stderr, verdict) {
					t.Fatalf("create %s: the debug log does not say %q: %s", id, verdict, r.stderr)
				}
				if name == "notify" && len(a.states()) != 1 {
					t.Fatalf("create %s: the agent got %d notify fds, want 1", id, len(a.states()))
				}
				e.must("start", id)
				got := oneFilter(t, e.state(id).Pid)
				if n := len(cacheEntries(t, e.root)); n != 1 {
					t.Fatalf("create %s: the cache holds %d entries, want 1", id, n)
				}
				if i == 0 {
					want = got
				} else if !bytes.Equal(got, want) {
					t.Fatalf("the filter loaded from the cache (%d instructions) differs from the one compiled (%d)", len(got)/8, len(want)/8)
				}
				if i == 1 {
					pidFile := filepath.Join(e.dir, id+".pid")
					a.reset()
					r := e.rung("--debug", "exec", "-d", "--pid-file", pidFile, id, "sleep", "1000")
					if r.code != 0 || !strings.Contains(r.stderr, "seccomp: compiled filter taken from") {
						t.Fatalf("exec: exit %d, the debug log does not say the cache was used: %s", r.code, r.stderr)
					}
					data, _ := os.ReadFile(pidFile)
					pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
					if got := oneFilter(t, pid); !bytes.Equal(got, want) {
						t.Fatalf("exec's filter from the cache (%d instructions) differs from create's compiled one (%d)", len(got)/8, len(want)/8)
					}
					if name == "notify" && len(a.states()) != 1 {
						t.Fatalf("exec: the agent got %d notify fds, want 1", len(a.states()))
					}
				}
				e.must("delete", "--force", id)
				e.noLeftovers(id)
			}
		})
	}
	// An invalid profile still fails create with the compiler's error,
	// however warm the cache, and is never cached.
	b := e.bundle("bad", "", func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"getcwd"}, Action: specs.ActErrno, ErrnoRet: &[]uint{70000}[0]}}}
	})
	before := len(cacheEntries(t, e.root))
	for i := 0; i < 2; i++ {
		if r := e.rung("create", "--bundle", b, "bad"); r.code == 0 || !strings.Contains(r.stderr, "linux.seccomp.syscalls[0]: errnoRet 70000: out of range") {
			t.Fatalf("invalid profile: exit %d %s", r.code, r.stderr)
		}
		e.noLeftovers("bad")
	}
	if after := len(cacheEntries(t, e.root)); after != before {
		t.Errorf("an invalid profile changed the cache: %d entries, then %d", before, after)
	}
}

// A cache entry or directory rung cannot vouch for is not used: the
// container gets the filter its profile compiles to, as a syscall the
// profile denies shows. First a well-formed entry that holds another
// profile's program is planted under the profile's key, and is used (so
// the cache is really read); then the same entry damaged or put where
// only someone else could have: a flipped byte, cut short, under another
// key, owned by another user, group-writable, hard-linked, a symlink, a
// fifo; and the directory itself a symlink, another user's, or
// group-writable. A directory rung cannot trust is not written to either.
func TestSeccompCacheUntrusted(t *testing.T) {
	e := newEnv(t)
	nr := func(name string) string {
		c, err := libseccomp.GetSyscallFromName(name)
		if err != nil {
			t.Fatal(err)
		}
		return strconv.Itoa(int(c))
	}
	getppid, getcpu := nr("getppid"), nr("getcpu")
	deny := func(name string) func(s *specs.Spec) {
		return func(s *specs.Spec) {
			s.Process.Args = []string{"/bin/probe", "syscall", getppid, getcpu}
			s.Process.Env = append(s.Process.Env, "GODEBUG=containermaxprocs=0,updatemaxprocs=0")
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
				Syscalls: []specs.LinuxSyscall{{Names: []string{name}, Action: specs.ActErrno}}}
		}
	}
	mine := e.bundle("mine", "", deny("getcpu"))
	other := e.bundle("other", "", deny("getppid"))
	wantMine := fmt.Sprintf("%s 0\n%s 1\n", getppid, getcpu)
	wantOther := fmt.Sprintf("%s 1\n%s 0\n", getppid, getcpu)
	cache := filepath.Join(e.root, seccompCacheDir)
	n := 0
	runIt := func(b, want, what string) {
		t.Helper()
		n++
		id := fmt.Sprintf("scu-%d", n)
		r := e.rung("run", "--bundle", b, id)
		if r.code != 0 || r.stdout != want {
			t.Errorf("%s: exit %d, stdout %q (want %q) %s", what, r.code, r.stdout, want, r.stderr)
		}
		e.noLeftovers(id)
	}

	// The other profile's entry, then this profile's key.
	runIt(other, wantOther, "other profile, compiled")
	entries := cacheEntries(t, e.root)
	if len(entries) != 1 {
		t.Fatalf("cache entries after one profile: %v", entries)
	}
	otherEntry, _ := os.ReadFile(entries[0])
	os.RemoveAll(cache)
	runIt(mine, wantMine, "this profile, compiled")
	entries = cacheEntries(t, e.root)
	if len(entries) != 1 {
		t.Fatalf("cache entries after one profile: %v", entries)
	}
	entry := entries[0]
	key, _ := os.ReadFile(entry)
	// Layout: magic[8] key[32] ... sha256[32] of all before it.
	forged := append([]byte{}, otherEntry...)
	copy(forged[8:40], key[8:40])
	sum := sha256.Sum256(forged[:len(forged)-32])
	copy(forged[len(forged)-32:], sum[:])

	reset := func(content []byte) {
		t.Helper()
		os.RemoveAll(cache)
		if err := os.Mkdir(cache, 0o700); err != nil {
			t.Fatal(err)
		}
		if content != nil {
			if err := os.WriteFile(entry, content, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	reset(forged)
	runIt(mine, wantOther, "a well-formed entry under this profile's key (so the cache is read)")

	flipped := append([]byte{}, forged...)
	flipped[56+4] ^= 0x01 // the first instruction's k
	cut := forged[:len(forged)-8]
	cases := []struct {
		name  string
		plant func()
	}{
		{"a flipped byte", func() { reset(flipped) }},
		{"cut short", func() { reset(cut) }},
		{"the other profile's entry under this key", func() { reset(otherEntry) }},
		{"owned by another user", func() { reset(forged); os.Chown(entry, 1000, 1000) }},
		{"group-writable", func() { reset(forged); os.Chmod(entry, 0o620) }},
		{"hard-linked", func() { reset(forged); os.Link(entry, filepath.Join(e.root, "hardlink")) }},
		{"a symlink to a well-formed entry", func() {
			reset(nil)
			os.WriteFile(filepath.Join(e.dir, "planted"), forged, 0o600)
			os.Symlink(filepath.Join(e.dir, "planted"), entry)
		}},
		{"a fifo", func() { reset(nil); unix.Mkfifo(entry, 0o600) }},
	}
	for _, c := range cases {
		c.plant()
		runIt(mine, wantMine, "entry "+c.name)
		os.Remove(filepath.Join(e.root, "hardlink"))
		// rung replaced what it could not use with what it compiled.
		if got, err := os.ReadFile(entry); err != nil || bytes.Equal(got, forged) || len(got) < 100 {
			t.Errorf("entry %s: after the run the entry holds %d bytes (%v)", c.name, len(got), err)
		}
	}

	// The directory itself.
	elsewhere := filepath.Join(e.dir, "elsewhere")
	dirCases := []struct {
		name  string
		plant func() string // where the planted entry now is
	}{
		{"a symlink", func() string {
			reset(forged)
			os.RemoveAll(elsewhere)
			os.Rename(cache, elsewhere)
			os.Symlink(elsewhere, cache)
			return filepath.Join(elsewhere, filepath.Base(entry))
		}},
		{"another user's", func() string { reset(forged); os.Chown(cache, 1000, 1000); return entry }},
		{"group-writable", func() string { reset(forged); os.Chmod(cache, 0o770); return entry }},
	}
	for _, c := range dirCases {
		planted := c.plant()
		runIt(mine, wantMine, "cache directory "+c.name)
		if got, err := os.ReadFile(planted); err != nil || !bytes.Equal(got, forged) {
			t.Errorf("cache directory %s: rung wrote into it (%v)", c.name, err)
		}
		if names, _ := os.ReadDir(filepath.Dir(planted)); len(names) != 1 {
			t.Errorf("cache directory %s: it holds %d files after the run, want the planted one", c.name, len(names))
		}
	}
}

// The cache stays bounded: after more distinct profiles than it keeps,
// it holds 64 entries, and a temporary
// file a killed writer left long ago is gone.
func TestSeccompCacheBounded(t *testing.T) {
	e := newEnv(t)
	cache := filepath.Join(e.root, seccompCacheDir)
	os.MkdirAll(cache, 0o700)
	stale := filepath.Join(cache, ".tmp-0123456789abcdef")
	os.WriteFile(stale, []byte("half"), 0o600)
	old := unix.NsecToTimespec(1e18)
	_ = unix.UtimesNano(stale, []unix.Timespec{old, old})
	const profiles = 70
	for i := 0; i < profiles; i++ {
		errno := uint(i + 1)
		b := e.bundle(fmt.Sprintf("p%d", i), "", func(s *specs.Spec) {
			s.Process.Args = []string{"true"}
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
				Syscalls: []specs.LinuxSyscall{{Names: []string{"getcpu"}, Action: specs.ActErrno, ErrnoRet: &errno}}}
		})
		id := fmt.Sprintf("scb-%d", i)
		if r := e.rung("run", "--bundle", b, id); r.code != 0 {
			t.Fatalf("run %s: exit %d %s", id, r.code, r.stderr)
		}
		os.RemoveAll(b)
	}
	entries := cacheEntries(t, e.root)
	if len(entries) != 64 {
		t.Errorf("after %d profiles the cache holds %d entries, want its bound, 64", profiles, len(entries))
	}
	var total int64
	for _, p := range entries {
		fi, _ := os.Stat(p)
		total += fi.Size()
	}
	if total > 4<<20 {
		t.Errorf("the cache holds %d bytes", total)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a stale temporary file stayed: %v", err)
	}
	all, _ := os.ReadDir(cache)
	if len(all) != len(entries) {
		t.Errorf("the cache directory holds %d files, %d of them entries", len(all), len(entries))
	}
}
