// Command probe runs inside a test container and reports, as one JSON
// object on stdout, what the container really looks like from inside:
// namespaces, ids, capabilities, limits, cwd, hostname, root writability
// and open fds. Tests compare it with what the config asked for. It is
// built static so it runs in any rootfs.
package main

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"syscall"
)

type report struct {
	Pid          int               `json:"pid"`
	UID          int               `json:"uid"`
	GID          int               `json:"gid"`
	Groups       []int             `json:"groups"`
	Cwd          string            `json:"cwd"`
	Hostname     string            `json:"hostname"`
	Namespaces   map[string]string `json:"namespaces"`
	Status       map[string]string `json:"status"` // Cap*, NoNewPrivs, Seccomp lines of /proc/self/status
	Rlimits      map[string][2]uint64
	Umask        int      `json:"umask"`
	RootWritable bool     `json:"rootWritable"`
	Fds          []string `json:"fds"`
	UIDMap       string   `json:"uidMap"`
	Env          []string `json:"env"`
}

var rlimits = map[string]int{"NOFILE": syscall.RLIMIT_NOFILE, "CORE": syscall.RLIMIT_CORE, "STACK": syscall.RLIMIT_STACK}

func main() {
	if len(os.Args) > 2 && os.Args[1] == "syscall" {
		syscalls(os.Args[2:])
		return
	}
	r := report{Pid: os.Getpid(), UID: os.Getuid(), GID: os.Getgid(), Namespaces: map[string]string{},
		Status: map[string]string{}, Rlimits: map[string][2]uint64{}, Env: os.Environ()}
	r.Groups, _ = os.Getgroups()
	r.Cwd, _ = os.Getwd()
	r.Hostname, _ = os.Hostname()
	for _, ns := range []string{"mnt", "pid", "net", "ipc", "uts", "user", "cgroup", "time"} {
		r.Namespaces[ns], _ = os.Readlink("/proc/self/ns/" + ns)
	}
	if data, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if ok && (strings.HasPrefix(k, "Cap") || k == "NoNewPrivs" || k == "Seccomp") {
				r.Status[k] = strings.TrimSpace(v)
			}
		}
	}
	for name, res := range rlimits {
		var rl syscall.Rlimit
		if syscall.Getrlimit(res, &rl) == nil {
			r.Rlimits[name] = [2]uint64{rl.Cur, rl.Max}
		}
	}
	r.Umask = syscall.Umask(0)
	if f, err := os.Create("/.probe-write-test"); err == nil {
		f.Close()
		os.Remove("/.probe-write-test")
		r.RootWritable = true
	}
	if entries, err := os.ReadDir("/proc/self/fd"); err == nil {
		for _, e := range entries {
			if n, err := strconv.Atoi(e.Name()); err == nil {
				target, _ := os.Readlink("/proc/self/fd/" + e.Name())
				r.Fds = append(r.Fds, strconv.Itoa(n)+"="+target)
			}
		}
	}
	if data, err := os.ReadFile("/proc/self/uid_map"); err == nil {
		r.UIDMap = strings.Join(strings.Fields(string(data)), " ")
	}
	json.NewEncoder(os.Stdout).Encode(r)
}

// syscalls makes each numbered syscall with zero arguments and prints
// "N errno" per line (0 when it succeeded): what a seccomp filter does
// with a syscall, seen from inside.
func syscalls(nrs []string) {
	for _, s := range nrs {
		nr, err := strconv.Atoi(s)
		if err != nil {
			os.Exit(2)
		}
		_, _, e := syscall.RawSyscall(uintptr(nr), 0, 0, 0)
		os.Stdout.WriteString(s + " " + strconv.Itoa(int(e)) + "\n")
	}
}
