// Command rung is an OCI container runtime, a drop-in for runc. Each
// command lives in its own file and only parses flags and calls the
// runtime package.
//
// The Go runtime's container-aware GOMAXPROCS is off. With it, each rung
// process, init included, would keep the host's cgroup cpu files open
// (the fds 3 and 4 of a `rung run` in the foreground) and re-read them
// while it lives; rung never needs more than a thread or two. The runtime
// still reads them once at start, and closes them.
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/rungrt/rung/hostcheck"
	"github.com/rungrt/rung/initproc"
	"github.com/rungrt/rung/internal/phase"
	"github.com/rungrt/rung/runtime"
)

// version is set by the build (-ldflags "-X main.version=...").
var version = "0.1.0"

const usage = `Open Container Initiative runtime with an isolation ladder

rung builds containers from OCI bundles, as runc does, and reads every
container's namespace set as a rung: none, standard, strict or quantum.`

func main() {
	phase.Mark("main")
	if len(os.Args) > 1 && os.Args[1] == "init" {
		initproc.Main() // never returns
	}
	if len(os.Args) > 1 && os.Args[1] == "nsexec" {
		initproc.ExecMain() // never returns
	}
	if len(os.Args) > 1 && os.Args[1] == hostcheck.ProbeArg {
		hostcheck.ProbeMain() // never returns
	}
	// CVE-2024-21626: an fd the caller leaked to rung (a host directory,
	// say) must never reach a container: all of them are close-on-exec.
	// The ones --preserve-fds names are handed on explicitly.
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		fatal(fmt.Errorf("mark inherited fds close-on-exec: %w", err))
	}
	if err := runApp(newApp(), os.Args); err != nil {
		fatal(err)
	}
}

// newApp is rung's command line: the global flags and one command per
// root file.
func newApp() *cli.App {
	app := cli.NewApp()
	app.Name = "rung"
	app.Usage = usage
	app.Version = version
	cli.VersionPrinter = func(c *cli.Context) {
		fmt.Printf("rung version %s\nspec: %s\ngo: %s\n", version, specs.Version, goruntime.Version())
	}
	app.Flags = []cli.Flag{
		&cli.StringFlag{Name: "root", Value: defaultRoot(), Usage: "root directory for storage of container state (this should be located in tmpfs)"},
		&cli.StringFlag{Name: "log", Usage: "log file (default: stderr)"},
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format: text or json"},
		&cli.StringFlag{Name: "log-level", Usage: "log level: debug, info, warn or error"},
		&cli.BoolFlag{Name: "debug", Usage: "enable debug logging"},
		&cli.BoolFlag{Name: "systemd-cgroup", Usage: "manage cgroups through systemd"},
		&cli.StringFlag{Name: "cgroup-manager", Usage: "cgroup manager, as crun's flag: cgroupfs or systemd (disabled is refused)"},
		&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "ignore cgroup permission errors: true, false or auto"},
	}
	app.Commands = []*cli.Command{
		checkCommand,
		createCommand,
		deleteCommand,
		eventsCommand,
		execCommand,
		featuresCommand,
		killCommand,
		listCommand,
		pauseCommand,
		psCommand,
		resumeCommand,
		runCommand,
		specCommand,
		startCommand,
		stateCommand,
		updateCommand,
		verifyCommand,
	}
	for _, c := range app.Commands {
		c.HideHelpCommand = true
	}
	app.DisableSliceFlagSeparator = true
	app.OnUsageError = usageError
	runcHelp()
	app.Before = setupLogging
	// Errors from flag parsing and unknown commands end like any other.
	cli.ErrWriter = io.Discard
	app.ErrWriter = io.Discard
	app.CommandNotFound = commandNotFound
	return app
}

func setupLogging(c *cli.Context) error {
	if err := setupRoot(c); err != nil {
		return err
	}
	if c.Bool("debug") {
		logrus.SetLevel(logrus.DebugLevel)
	}
	if lv := c.String("log-level"); lv != "" {
		level, err := logrus.ParseLevel(lv)
		if err != nil {
			return fmt.Errorf("--log-level: %w", err)
		}
		logrus.SetLevel(level)
	}
	if p := c.String("log"); p != "" {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
		if err != nil {
			return fmt.Errorf("--log: %w", err)
		}
		logrus.SetOutput(f)
		logToFile = true
	}
	switch f := c.String("log-format"); f {
	case "text":
	case "json":
		logrus.SetFormatter(new(logrus.JSONFormatter))
	default:
		return fmt.Errorf("--log-format: unknown format %q (want text or json)", f)
	}
	switch m := c.String("cgroup-manager"); {
	case m == "systemd", m == "" && c.Bool("systemd-cgroup"):
		systemdCgroup = true
	case c.Bool("systemd-cgroup") && m != "systemd":
		return fmt.Errorf("--systemd-cgroup and --cgroup-manager %s contradict each other", m)
	case m == "disabled":
		// crun's "disabled" skips cgroups, and with them every resource
		// limit of the config: refused rather than silently ignored.
		return fmt.Errorf("--cgroup-manager disabled: not supported: rung always puts a container in its own cgroup")
	case m != "" && m != "cgroupfs":
		return fmt.Errorf("--cgroup-manager: unknown manager %q", m)
	}
	rootlessFlag = c.String("rootless")
	return nil
}

var logToFile bool

// systemdCgroup: systemd manages new containers' cgroups (--systemd-cgroup
// or --cgroup-manager systemd). Existing containers keep the manager their
// record names, whatever a later command's flags say.
var systemdCgroup bool

// fatal reports err the way runc does: through the log (so an engine
// reading --log gets exactly one error object) and, when the log is a
// file, once more as a plain line on stderr.
func fatal(err error) { fatalCode(err, 1) }

// fatalCode is fatal with another exit code.
func fatalCode(err error, code int) {
	logrus.Error(err)
	if logToFile {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

// containerID is the command's single ID argument.
func containerID(c *cli.Context) (string, error) {
	id := c.Args().First()
	if id == "" {
		return "", fmt.Errorf("%s: container id cannot be empty", c.Command.Name)
	}
	return id, nil
}

// loadContainer is the container named by a command's single ID argument.
func loadContainer(c *cli.Context) (*runtime.Container, error) {
	if err := checkArgs(c, 1, 1); err != nil {
		return nil, err
	}
	return runtime.Load(c.String("root"), c.Args().First())
}

// checkArgs refuses extra or missing positional arguments.
func checkArgs(c *cli.Context, min, max int) error {
	n := c.NArg()
	if n < min || (max >= 0 && n > max) {
		want := fmt.Sprintf("%d", min)
		if max != min {
			want = fmt.Sprintf("%d to %d", min, max)
		}
		return fmt.Errorf("%s: %s requires %s argument(s), got %d: %s", c.App.Name, c.Command.Name, want, n, strings.Join(c.Args().Slice(), " "))
	}
	return nil
}
