package runtime

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/rungrt/rung/initproc"
	"github.com/rungrt/rung/libns"
)

// TestLaunchFdLayout: the fd numbers the child gets are the ones it reads
// (initproc's constants, the config's fd fields, the constructor's
// environment), for create and exec, with and without the optional files.
func TestLaunchFdLayout(t *testing.T) {
	file := func(name string) *os.File {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	exe, child, pidW, fifo, logW, console, root := file("exe"), file("child"), file("pidW"), file("fifo"), file("log"), file("console"), file("root")
	p1, p2, netns, pidns := file("p1"), file("p2"), file("net"), file("pid")
	nsenter := func(fds, pid int, kinds ...libns.Kind) string {
		var parts []string
		for i, k := range kinds {
			parts = append(parts, fmt.Sprintf("%d:%d", fds+i, k.CloneFlag()))
		}
		return fmt.Sprintf("_RUNG_NSENTER=%s;%d;0", strings.Join(parts, ","), pid)
	}
	for _, c := range []struct {
		name      string
		o         launchOptions
		want      []*os.File // fd 3, 4, ...
		console   int
		preserved []int
		rootFd    int
		env       string // the constructor's entry, "" for none
	}{
		{
			name: "create, clone only",
			o:    launchOptions{fifo: fifo, console: console, preserved: []*os.File{p1, p2}},
			want: []*os.File{child, fifo, console, p1, p2}, console: 5, preserved: []int{6, 7},
		},
		{
			name: "create, log, joins a pid namespace (fork)",
			o: launchOptions{fifo: fifo, log: &childLog{w: logW}, console: console, preserved: []*os.File{p1},
				joins: []libns.Join{{Kind: libns.Net, File: netns}, {Kind: libns.PID, File: pidns}}},
			want:    []*os.File{child, fifo, logW, console, p1, pidW, netns, pidns},
			console: 6, preserved: []int{7},
			env: nsenter(9, 8, libns.Net, libns.PID),
		},
		{
			name: "exec, log, root, joins",
			o: launchOptions{log: &childLog{w: logW}, console: console, root: root,
				joins: []libns.Join{{Kind: libns.Net, File: netns}}},
			want:    []*os.File{child, pidW, logW, console, root, netns},
			console: 6, rootFd: 7,
			env: nsenter(8, 4, libns.Net),
		},
		{
			name: "exec, nothing to join: the constructor still reports",
			o:    launchOptions{},
			want: []*os.File{child, pidW},
			env:  "_RUNG_NSENTER=;4;0",
		},
	} {
		l := &launched{forked: libns.NeedsFork(c.o.joins, c.o.unshare)}
		cmd, err := l.command(c.o, exe, child, pidW)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !slices.Equal(cmd.ExtraFiles, c.want) {
			t.Errorf("%s: extra files %v, want %v", c.name, names(cmd.ExtraFiles), names(c.want))
		}
		if cmd.ExtraFiles[initproc.SyncFd-3] != child || (c.o.fifo != nil && cmd.ExtraFiles[initproc.FifoFd-3] != fifo) ||
			(c.o.log != nil && cmd.ExtraFiles[initproc.LogFd-3] != logW) {
			t.Errorf("%s: sync, fifo or log not at initproc's fds", c.name)
		}
		if l.consoleFd != c.console || !slices.Equal(l.preserved, c.preserved) || l.rootFd != c.rootFd {
			t.Errorf("%s: console %d preserved %v root %d, want %d %v %d", c.name, l.consoleFd, l.preserved, l.rootFd, c.console, c.preserved, c.rootFd)
		}
		var got string
		for _, e := range cmd.Env {
			if strings.HasPrefix(e, "_RUNG_NSENTER=") {
				got = e
			}
		}
		if got != c.env {
			t.Errorf("%s: constructor env %q, want %q", c.name, got, c.env)
		}
		if cmd.Path != fmt.Sprintf("/proc/self/fd/%d", exe.Fd()) {
			t.Errorf("%s: path %s", c.name, cmd.Path)
		}
	}
}

func names(fs []*os.File) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name())
	}
	return out
}
