package main

import (
	"bytes"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// parsed is what a command line came to: the command run (or the one
// whose help was shown, or the unknown name), its arguments and the
// flags set on it; global flags are keyed "rung --name".
type parsed struct {
	cmd   string
	args  []string
	flags map[string]string
	help  string // the command whose help was printed ("rung": the app's)
	err   string // the parse error
}

// parse runs argv through rung's real command line (newApp and runApp,
// runc's argument order included) with each action replaced by a
// recorder.
func parse(t *testing.T, argv ...string) parsed {
	t.Helper()
	var got parsed
	app := newApp()
	app.Before = nil // the logging and --root set-up are not under test
	var out bytes.Buffer
	app.Writer = &out
	notFound := app.CommandNotFound
	app.CommandNotFound = func(c *cli.Context, name string) {
		if c.App.Command(c.Command.Name) == c.Command {
			notFound(c, name) // a command's help: see commandNotFound
			return
		}
		got.cmd = "unknown:" + name
	}
	for i, cmd := range app.Commands {
		c := *cmd
		c.Action = func(c *cli.Context) error {
			got.cmd = c.Command.Name
			got.args = c.Args().Slice()
			got.flags = map[string]string{}
			record(got.flags, "", c, c.Command.Flags)
			record(got.flags, "rung --", c.Lineage()[1], app.Flags)
			return nil
		}
		app.Commands[i] = &c
	}
	if err := runApp(app, append([]string{"rung"}, argv...)); err != nil {
		got.err = err.Error()
	}
	if h := out.String(); strings.HasPrefix(h, "NAME:\n   ") && got.err == "" {
		got.help = strings.Fields(strings.TrimPrefix(h, "NAME:\n   "))[0]
		if f := strings.Fields(h); len(f) > 2 && f[1] == "rung" && f[2] != "-" {
			got.help = f[2]
		}
	}
	return got
}

// record puts the value of each flag set in c into m.
func record(m map[string]string, prefix string, c *cli.Context, flags []cli.Flag) {
	for _, f := range flags {
		name := f.Names()[0]
		if f == cli.HelpFlag || !c.IsSet(name) {
			continue
		}
		var v string
		switch f.(type) {
		case *cli.StringFlag:
			v = c.String(name)
		case *cli.BoolFlag:
			v = strconv.FormatBool(c.Bool(name))
		case *cli.IntFlag:
			v = strconv.Itoa(c.Int(name))
		case *cli.StringSliceFlag:
			v = strings.Join(c.StringSlice(name), "|")
		case *cli.DurationFlag:
			v = c.Duration(name).String()
		default:
			v = "?"
		}
		m[prefix+name] = v
	}
}

type flags = map[string]string

// The argument forms runc (urfave/cli v1) accepts, and what each means;
// rung read them the same way on v1, and must on v2. Checked by hand
// against runc 1.1 and against the v1 build of rung; tests/cliforms_test.go
// runs the observable ones side by side with runc.
var argForms = []struct {
	argv string // split on "|"
	want parsed
}{
	// exec: everything after the container ID is the process' command
	// line, even words that are exec's own flags.
	{"exec|ctr|ls|-l", parsed{cmd: "exec", args: []string{"ctr", "ls", "-l"}, flags: flags{}}},
	{"exec|ctr|sh|-c|echo x|--tty", parsed{cmd: "exec", args: []string{"ctr", "sh", "-c", "echo x", "--tty"}, flags: flags{}}},
	{"exec|ctr|--env|A=1|sh", parsed{cmd: "exec", args: []string{"ctr", "--env", "A=1", "sh"}, flags: flags{}}},
	{"exec|ctr|--|ls", parsed{cmd: "exec", args: []string{"ctr", "--", "ls"}, flags: flags{}}},
	{"exec|--|ctr|ls", parsed{cmd: "exec", args: []string{"ctr", "ls"}, flags: flags{}}},
	{"exec|-t|ctr|sh", parsed{cmd: "exec", args: []string{"ctr", "sh"}, flags: flags{"tty": "true"}}},
	{"exec|--tty=false|--detach=true|ctr|sh", parsed{cmd: "exec", args: []string{"ctr", "sh"}, flags: flags{"tty": "false", "detach": "true"}}},
	{"exec|-d|--pid-file|/p|ctr|sleep|1", parsed{cmd: "exec", args: []string{"ctr", "sleep", "1"}, flags: flags{"detach": "true", "pid-file": "/p"}}},
	{"exec|--pid-file=/p|ctr|true", parsed{cmd: "exec", args: []string{"ctr", "true"}, flags: flags{"pid-file": "/p"}}},
	// Repeated flags add up; a value is never split at commas nor trimmed.
	{"exec|--env|A=1|--env|B=2|--env|C=3,4|ctr|env", parsed{cmd: "exec", args: []string{"ctr", "env"}, flags: flags{"env": "A=1|B=2|C=3,4"}}},
	{"exec|-e|A=1|-e|B=2|ctr|env", parsed{cmd: "exec", args: []string{"ctr", "env"}, flags: flags{"env": "A=1|B=2"}}},
	// v1 refuses a flag's long and short forms together.
	{"exec|--env|A=1|-e|B=2|ctr|env", parsed{err: "Cannot use two forms of the same flag: e env"}},
	{"exec|--env= A=1 |ctr|env", parsed{cmd: "exec", args: []string{"ctr", "env"}, flags: flags{"env": " A=1 "}}},
	{"exec|--cap|CAP_KILL|--cap|CAP_NET_RAW|ctr|sh", parsed{cmd: "exec", args: []string{"ctr", "sh"}, flags: flags{"cap": "CAP_KILL|CAP_NET_RAW"}}},
	{"exec|--cgroup|cpu,memory:sub|ctr|sh", parsed{cmd: "exec", args: []string{"ctr", "sh"}, flags: flags{"cgroup": "cpu,memory:sub"}}},
	{"exec|-u|1:2|-g|10|-g=11|--cwd|/tmp|--no-new-privs|--preserve-fds|2|ctr|id", parsed{cmd: "exec", args: []string{"ctr", "id"},
		flags: flags{"user": "1:2", "additional-gids": "10|11", "cwd": "/tmp", "no-new-privs": "true", "preserve-fds": "2"}}},
	{"exec|-p|/proc.json|ctr", parsed{cmd: "exec", args: []string{"ctr"}, flags: flags{"process": "/proc.json"}}},
	// runc takes no combined short flags.
	{"exec|-ti|ctr|sh", parsed{err: "flag provided but not defined: -ti"}},
	{"exec|--bogus|ctr|sh", parsed{err: "flag provided but not defined: -bogus"}},
	{"exec", parsed{cmd: "exec", args: []string{}, flags: flags{}}},

	// Every other command takes its flags before or after its arguments.
	{"run|-d|ctr", parsed{cmd: "run", args: []string{"ctr"}, flags: flags{"detach": "true"}}},
	{"run|ctr|-d", parsed{cmd: "run", args: []string{"ctr"}, flags: flags{"detach": "true"}}},
	{"run|--detach=false|ctr", parsed{cmd: "run", args: []string{"ctr"}, flags: flags{"detach": "false"}}},
	{"run|ctr|-d|--keep|--bundle|/b|--pid-file=/p", parsed{cmd: "run", args: []string{"ctr"}, flags: flags{"detach": "true", "keep": "true", "bundle": "/b", "pid-file": "/p"}}},
	{"run|-b|/b|--|ctr", parsed{cmd: "run", args: []string{"ctr"}, flags: flags{"bundle": "/b"}}},
	{"create|--bundle=/b|ctr|--preserve-fds|3", parsed{cmd: "create", args: []string{"ctr"}, flags: flags{"bundle": "/b", "preserve-fds": "3"}}},
	{"delete|-f|ctr", parsed{cmd: "delete", args: []string{"ctr"}, flags: flags{"force": "true"}}},
	{"delete|ctr|-f", parsed{cmd: "delete", args: []string{"ctr"}, flags: flags{"force": "true"}}},
	{"delete|ctr|--force=false", parsed{cmd: "delete", args: []string{"ctr"}, flags: flags{"force": "false"}}},
	{"delete|--|-f", parsed{cmd: "delete", args: []string{"-f"}, flags: flags{}}},
	{"create|ctr|---bundle|/b", parsed{err: "bad flag syntax: ---bundle"}},
	{"kill|ctr", parsed{cmd: "kill", args: []string{"ctr"}, flags: flags{}}},
	{"kill|ctr|9", parsed{cmd: "kill", args: []string{"ctr", "9"}, flags: flags{}}},
	{"kill|ctr|KILL", parsed{cmd: "kill", args: []string{"ctr", "KILL"}, flags: flags{}}},
	{"kill|ctr|SIGKILL", parsed{cmd: "kill", args: []string{"ctr", "SIGKILL"}, flags: flags{}}},
	{"kill|--all|ctr|9", parsed{cmd: "kill", args: []string{"ctr", "9"}, flags: flags{"all": "true"}}},
	{"kill|ctr|9|-a", parsed{cmd: "kill", args: []string{"ctr", "9"}, flags: flags{"all": "true"}}},
	// v1 moves the word after any flag written without "=" along with
	// it, a boolean's too: runc reads this as `kill --all 9 ctr`.
	{"kill|ctr|--all|9", parsed{cmd: "kill", args: []string{"9", "ctr"}, flags: flags{"all": "true"}}},
	{"kill|ctr|--|-9", parsed{cmd: "kill", args: []string{"ctr", "-9"}, flags: flags{}}},
	{"kill|ctr|-9", parsed{cmd: "kill", args: []string{"ctr", "-9"}, flags: flags{}}},
	{"update|ctr|--memory|10m|--pids-limit=5", parsed{cmd: "update", args: []string{"ctr"}, flags: flags{"memory": "10m", "pids-limit": "5"}}},
	{"events|ctr|--interval|1s|--stats", parsed{cmd: "events", args: []string{"ctr"}, flags: flags{"interval": "1s", "stats": "true"}}},
	{"list|-q|--format=json", parsed{cmd: "list", args: []string{}, flags: flags{"quiet": "true", "format": "json"}}},
	{"spec|--rootless|-b|/b", parsed{cmd: "spec", args: []string{}, flags: flags{"rootless": "true", "bundle": "/b"}}},

	// ps: as exec, the words after the ID are ps(1)'s.
	{"ps|ctr|-ef", parsed{cmd: "ps", args: []string{"ctr", "-ef"}, flags: flags{}}},
	{"ps|ctr|--|-ef", parsed{cmd: "ps", args: []string{"ctr", "--", "-ef"}, flags: flags{}}},
	{"ps|-f|json|ctr", parsed{cmd: "ps", args: []string{"ctr"}, flags: flags{"format": "json"}}},
	{"ps|ctr|-f|json", parsed{cmd: "ps", args: []string{"ctr", "-f", "json"}, flags: flags{}}},

	// Global flags go before the command, in either form.
	{"--root|/r|--log|/l|--log-format|json|create|--bundle|/b|ctr", parsed{cmd: "create", args: []string{"ctr"},
		flags: flags{"bundle": "/b", "rung --root": "/r", "rung --log": "/l", "rung --log-format": "json"}}},
	{"--root=/r|--debug|--systemd-cgroup|--rootless=false|--log-level=warn|state|ctr", parsed{cmd: "state", args: []string{"ctr"},
		flags: flags{"rung --root": "/r", "rung --debug": "true", "rung --systemd-cgroup": "true", "rung --rootless": "false", "rung --log-level": "warn"}}},
	{"--cgroup-manager|systemd|list", parsed{cmd: "list", args: []string{}, flags: flags{"rung --cgroup-manager": "systemd"}}},
	{"list|--root|/r", parsed{err: "flag provided but not defined: -root"}},
	{"--bogus|list", parsed{err: "flag provided but not defined: -bogus"}},
	{"--root", parsed{err: "flag needs an argument: -root"}},
	{"nosuch", parsed{cmd: "unknown:nosuch"}},

	// Help, wherever the flag is, but for exec and ps after the ID.
	{"--help", parsed{help: "rung"}},
	{"-h|exec", parsed{help: "rung"}},
	{"help", parsed{help: "rung"}},
	{"help|kill", parsed{help: "kill"}},
	{"exec|--help", parsed{help: "exec"}},
	{"exec|-h|ctr", parsed{help: "exec"}},
	{"exec|ctr|--help", parsed{cmd: "exec", args: []string{"ctr", "--help"}, flags: flags{}}},
	{"delete|ctr|-h", parsed{help: "delete"}},
	{"kill|ctr|--help|9", parsed{help: "kill"}},
	{"kill|help", parsed{cmd: "kill", args: []string{"help"}, flags: flags{}}},
}

func TestArgForms(t *testing.T) {
	for _, f := range argForms {
		got := parse(t, strings.Split(f.argv, "|")...)
		want := f.want
		if want.err != "" && strings.Contains(got.err, want.err) {
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("rung %s:\n got %+v\nwant %+v", strings.ReplaceAll(f.argv, "|", " "), got, want)
		}
	}
}
