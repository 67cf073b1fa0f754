package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	"github.com/rungrt/rung/runtime"
)

var execCommand = &cli.Command{
	Name:      "exec",
	Usage:     "run a new process inside a running container",
	ArgsUsage: "<container-id> <command> [args...]",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "runtime-spec Process JSON file to run"},
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "return once the process has started"},
		&cli.StringFlag{Name: "pid-file", Usage: "file to write the process' host pid to"},
		&cli.StringFlag{Name: "console-socket", Usage: "AF_UNIX socket to send the pty master to"},
		&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-TTY"},
		&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, KeepSpace: true, Usage: "set an environment variable (KEY=VALUE)"},
		&cli.StringFlag{Name: "cwd", Usage: "working directory in the container"},
		&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "UID[:GID] to run as"},
		&cli.StringSliceFlag{Name: "additional-gids", Aliases: []string{"g"}, KeepSpace: true, Usage: "additional gids"},
		&cli.StringSliceFlag{Name: "cap", Aliases: []string{"c"}, KeepSpace: true, Usage: "add a capability (never to the inheritable set)"},
		&cli.BoolFlag{Name: "no-new-privs", Usage: "set no_new_privs for the process"},
		&cli.IntFlag{Name: "preserve-fds", Usage: "pass N fds beyond stdio to the process"},
		&cli.StringFlag{Name: "pidfd-socket", Usage: "AF_UNIX socket to send a pidfd of the process to"},
		&cli.StringSliceFlag{Name: "cgroup", KeepSpace: true, Usage: "run the process in an existing sub-cgroup of the container's: [CONTROLLER[,CONTROLLER]:]PATH"},
		&cli.BoolFlag{Name: "ignore-paused", Usage: "exec into a paused container (the process starts when it is resumed)"},
	},
	Action: func(c *cli.Context) error {
		if c.NArg() < 1 {
			return errors.New("exec: container id cannot be empty")
		}
		status, err := execAction(c)
		if err != nil {
			// As runc: a failed exec exits 255, which no process status
			// can be, so a caller tells the two apart.
			fatalCode(fmt.Errorf("exec failed: %w", err), 255)
		}
		if !c.Bool("detach") {
			os.Exit(status)
		}
		return nil
	},
}

func execAction(c *cli.Context) (int, error) {
	if n := c.Int("preserve-fds"); n < 0 || n > 1000 {
		return -1, fmt.Errorf("--preserve-fds: %d is not a count of fds", n)
	}
	sub, err := runtime.ParseSubCgroups(c.StringSlice("cgroup"))
	if err != nil {
		return -1, err
	}
	ct, err := runtime.Load(c.String("root"), c.Args().First())
	if err != nil {
		return -1, err
	}
	p, err := execProcess(c, ct)
	if err != nil {
		return -1, err
	}
	if c.Bool("tty") {
		p.Terminal = true
	}
	return ct.Exec(runtime.ExecOptions{
		Process: p, Detach: c.Bool("detach"), PidFile: c.String("pid-file"), ConsoleSocket: c.String("console-socket"),
		PreserveFds: c.Int("preserve-fds"), PidfdSocket: c.String("pidfd-socket"),
		IgnorePaused: c.Bool("ignore-paused"), SubCgroups: sub,
	})
}

// execProcess is the process to run: --process as given, or the
// container's own process with the command and the flags' overrides.
func execProcess(c *cli.Context, ct *runtime.Container) (*specs.Process, error) {
	if path := c.String("process"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--process: %w", err)
		}
		var p specs.Process
		if err := json.Unmarshal(data, &p); err != nil {
			return nil, fmt.Errorf("--process: parse %s: %w", path, err)
		}
		return &p, nil
	}
	if c.NArg() < 2 {
		return nil, errors.New("process args cannot be empty (give a command or --process)")
	}
	process, _, err := ct.Rec.ExecParts()
	if err != nil {
		return nil, err
	}
	if process == nil {
		return nil, errors.New("exec: the container's config is not recorded")
	}
	p := *process
	p.Args = c.Args().Slice()[1:]
	p.Terminal = false
	p.Env = append(append([]string{}, p.Env...), c.StringSlice("env")...)
	if cwd := c.String("cwd"); cwd != "" {
		p.Cwd = cwd
	}
	if u := c.String("user"); u != "" {
		uidStr, gidStr, hasGID := strings.Cut(u, ":")
		uid, err := strconv.ParseUint(uidStr, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--user %q: want UID[:GID]", u)
		}
		p.User.UID = uint32(uid)
		if hasGID {
			gid, err := strconv.ParseUint(gidStr, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("--user %q: want UID[:GID]", u)
			}
			p.User.GID = uint32(gid)
		}
	}
	for _, g := range c.StringSlice("additional-gids") {
		gid, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--additional-gids %q: %w", g, err)
		}
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(gid))
	}
	if caps := c.StringSlice("cap"); len(caps) > 0 {
		// CVE-2022-29162: added capabilities never go to the inheritable
		// set, or binaries with file capabilities would gain them.
		old := p.Capabilities
		if old == nil {
			old = &specs.LinuxCapabilities{}
		}
		p.Capabilities = &specs.LinuxCapabilities{
			Bounding:    append(append([]string{}, old.Bounding...), caps...),
			Effective:   append(append([]string{}, old.Effective...), caps...),
			Permitted:   append(append([]string{}, old.Permitted...), caps...),
			Ambient:     append(append([]string{}, old.Ambient...), caps...),
			Inheritable: old.Inheritable,
		}
	}
	if c.Bool("no-new-privs") {
		p.NoNewPrivileges = true
	}
	return &p, nil
}
