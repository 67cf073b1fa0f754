package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIArgFormsAsRunc runs runc's argument forms with rung and with
// runc, on containers of the same bundle, and compares what a caller
// sees: the exit code and, where both print the same thing, stdout. The
// parse behind each form is pinned by TestArgForms (package main).
func TestCLIArgFormsAsRunc(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", "", sleeper)
	// In a row: ID and ID2 are each runtime's containers, B the bundle,
	// LOG and FILE paths of each runtime's own.
	with := func(rt, argv string) []string {
		args := strings.Split(argv, "|")
		for i, a := range args {
			switch a {
			case "ID", "ID2":
				args[i] = strings.ToLower(a) + "-" + rt
			case "B":
				args[i] = b
			case "LOG", "FILE":
				args[i] = filepath.Join(e.dir, strings.ToLower(a)+"-"+rt)
			}
		}
		return args
	}
	// Output names its runtime's container; put the placeholders back.
	norm := func(rt, s string) string {
		return strings.NewReplacer("id2-"+rt, "ID2", "id-"+rt, "ID").Replace(s)
	}
	rows := []struct {
		argv    string // split on "|"
		out     bool   // stdout must match too
		help    bool   // both print a help text (whose words differ)
		rungErr string // rung's own error text, where runc prints its usage instead
		codes   *[2]int
	}{
		{argv: "run|-d|--bundle|B|ID"},
		{argv: "run|ID2|-d|-b|B"},
		{argv: "list|-q", out: true},
		{argv: "delete|ID2|-f"},
		{argv: "list|-q", out: true},
		{argv: "--log|LOG|--log-format|json|state|ID"},
		{argv: "--log=LOG|--log-format=json|--debug=false|kill|ID|0"},
		{argv: "--log|LOG|--log-format|json|kill|nosuch|9"},

		// exec: after the ID, words are the process' own, exec's flags too.
		{argv: `exec|ID|sh|-c|echo "$0" "$@"|--tty|-e|X=1`, out: true},
		{argv: "exec|ID|echo|-d|--env|A|--user|0", out: true},
		{argv: "exec|--env|A=1|--env|B=2|ID|sh|-c|echo $A $B", out: true},
		{argv: "exec|-e|A=1,2|ID|sh|-c|echo $A", out: true},
		{argv: `exec|--env=A= x |ID|sh|-c|echo "[$A]"`, out: true},
		{argv: "exec|--env|A=1|-e|B=2|ID|true"},
		{argv: "exec|-ti|ID|true"},
		{argv: "exec|--bogus|ID|true"},
		{argv: "exec|--cwd=/tmp|ID|pwd", out: true},
		{argv: "exec|--cwd|/tmp|ID|pwd", out: true},
		{argv: "exec|-u|1:1|ID|id", out: true},
		{argv: "exec|--user=65534|ID|id|-u", out: true},
		{argv: "exec|--cap|CAP_SYS_ADMIN|--cap|CAP_NET_ADMIN|ID|grep|^Cap|/proc/self/status", out: true},
		{argv: "exec|-d|ID|true"},
		{argv: "exec|--detach=false|ID|sh|-c|exit 3"},
		{argv: "exec|--detach=true|--pid-file|FILE|ID|true"},
		{argv: "exec|--preserve-fds|0|ID|true"},
		{argv: "exec|--|ID|echo|x", out: true},
		{argv: "exec|ID|--|echo|x"},
		{argv: "exec|ID", rungErr: "process args cannot be empty"},
		{argv: "exec", rungErr: "exec: container id cannot be empty"},
		{argv: "exec|ID|--help"},
		{argv: "exec|--help", help: true},
		{argv: "exec|-h|ID", help: true},

		// ps: as exec, the words after the ID are ps(1)'s.
		{argv: "ps|-f|json|ID"},
		{argv: "ps|ID|-ef"},
		{argv: "ps|ID|-f|json"},
		{argv: "ps|ID|--|-ef"},
		{argv: "ps", rungErr: "ps: container id cannot be empty"},

		// kill: the signal by number or name; flags on either side.
		{argv: "kill|ID|0"},
		{argv: "kill|ID|CONT"},
		{argv: "kill|ID|SIGCONT"},
		{argv: "kill|ID|18"},
		{argv: "kill|--all|ID|CONT"},
		{argv: "kill|ID|CONT|-a"},
		{argv: "kill|ID|--all|0"}, // `kill --all 0 ID`: the container "0"
		{argv: "kill|ID|--|0"},
		{argv: "kill|ID|BOGUS"},
		{argv: "kill|ID|-9"},
		{argv: "kill|ID|1|2", rungErr: "rung: kill requires 1 to 2 argument(s), got 3: "},
		{argv: "kill", rungErr: "rung: kill requires 1 to 2 argument(s), got 0"},
		{argv: "kill|ID|--help|0", help: true},

		// The other commands.
		{argv: "state|ID|extra", rungErr: "rung: state requires 1 argument(s), got 2"},
		{argv: "state", rungErr: "rung: state requires 1 argument(s), got 0"},
		{argv: "start|nosuch"},
		{argv: "delete|nosuch"},
		{argv: "delete|-f|nosuch"},
		{argv: "delete|nosuch|--force"},
		{argv: "delete", rungErr: "rung: delete requires 1 argument(s), got 0"},
		{argv: "delete|ID|-h", help: true},
		{argv: "create", rungErr: "rung: create requires 1 argument(s), got 0"},
		{argv: "run|-d", rungErr: "rung: run requires 1 argument(s), got 0"},
		{argv: "list|--root|/x"},
		{argv: "list|--format=json|extra", rungErr: "rung: list requires 0 argument(s), got 1"},
		{argv: "--bogus|list"},
		{argv: "--help", help: true},
		{argv: "-h|exec", help: true},
		{argv: "help|kill", help: true},
		{argv: "--version"},
		{argv: "-v"},
		// A difference rung had on v1 too: runc ends an unknown command
		// with "No help topic" and 3.
		{argv: "nosuch", rungErr: "no such command: nosuch", codes: &[2]int{1, 3}},

		{argv: "delete|ID|--force"},
		{argv: "list|-q", out: true},
	}
	for _, r := range rows {
		ours, theirs := e.rung(with("rung", r.argv)...), e.runc(with("runc", r.argv)...)
		name := strings.ReplaceAll(r.argv, "|", " ")
		want := [2]int{theirs.code, theirs.code}
		if r.codes != nil {
			want = *r.codes
		}
		if ours.code != want[0] || theirs.code != want[1] {
			t.Errorf("%s: rung exits %d (%s), runc %d (%s); want %d and %d", name, ours.code, ours.stderr, theirs.code, theirs.stderr, want[0], want[1])
			continue
		}
		if r.out && norm("rung", ours.stdout) != norm("runc", theirs.stdout) {
			t.Errorf("%s: rung prints %q, runc %q", name, ours.stdout, theirs.stdout)
		}
		if r.help && (!strings.HasPrefix(ours.stdout, "NAME:\n") || !strings.HasPrefix(theirs.stdout, "NAME:\n")) {
			t.Errorf("%s: not a help text: rung %q, runc %q", name, ours.stdout, theirs.stdout)
		}
		if r.rungErr != "" && !strings.Contains(ours.stderr, r.rungErr) {
			t.Errorf("%s: rung says %q, want %q", name, ours.stderr, r.rungErr)
		}
	}
	// The global flags before the command were taken: each runtime wrote
	// its JSON log and the exec its pid file.
	for _, rt := range []string{"rung", "runc"} {
		if data, err := os.ReadFile(filepath.Join(e.dir, "log-"+rt)); err != nil || !strings.Contains(string(data), `"level":"`) {
			t.Errorf("%s --log --log-format json: %q, %v", rt, data, err)
		}
		if _, err := os.Stat(filepath.Join(e.dir, "file-"+rt)); err != nil {
			t.Errorf("%s exec --pid-file: %v", rt, err)
		}
	}
	e.noLeftovers("id-rung")
	e.noLeftovers("id2-rung")
}
