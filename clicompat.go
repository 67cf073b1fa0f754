package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

// What runc's command line does that urfave/cli v2 does otherwise. runc is
// built on urfave/cli v1 and engines and scripts are written against it;
// rung uses v2 and puts back, here, each v1 behaviour they can see: the
// argument order (runcOrder), the help text (the templates and
// flagString) and the usage error of a bad global flag (usageError).
// The other differences are settings in newApp: no "help" subcommand
// under each command (HideHelpCommand), no splitting of a repeated
// flag's value at commas (DisableSliceFlagSeparator: `--env A=1,2`) and
// no trimming of its spaces (KeepSpace on each StringSliceFlag).

// runcHelp sets v1's help templates and flag format.
func runcHelp() {
	cli.AppHelpTemplate = appHelpTemplate
	// rung's commands have no subcommands: v2 picks its subcommand
	// template for `rung CMD --help`, v1 the command's.
	cli.CommandHelpTemplate = commandHelpTemplate
	cli.SubcommandHelpTemplate = commandHelpTemplate
	cli.FlagStringer = flagString
	cli.HelpPrinter = func(w io.Writer, templ string, data any) {
		cli.HelpPrinterCustom(w, templ, data, map[string]any{"optionFlags": optionFlags})
	}
}

// optionFlags are the flags a command's help lists: v1 never listed the
// --help that it accepts on each command.
func optionFlags(flags []cli.Flag) []cli.Flag {
	var out []cli.Flag
	for _, f := range flags {
		if f != cli.HelpFlag {
			out = append(out, f)
		}
	}
	return out
}

// commandNotFound is v2's call for an unknown command; v2 also makes it
// for `rung CMD ID --help`, taking ID for a subcommand whose help is
// asked for. That shows CMD's help, as v1 does.
func commandNotFound(c *cli.Context, name string) {
	if c.Command != nil && c.App.Command(c.Command.Name) == c.Command {
		_ = cli.ShowSubcommandHelp(c)
		return
	}
	fatal(fmt.Errorf("no such command: %s", name))
}

// flagString is a flag's help line as v1 writes it: "--name value, -n
// value", the usage, and the default unless the flag is a boolean (v2
// adds "(default: false)") and without v2's "[ --env value ]" repeat
// hint of a slice flag.
func flagString(f cli.Flag) string {
	df, ok := f.(cli.DocGenerationFlag)
	if !ok {
		return ""
	}
	placeholder := ""
	if df.TakesValue() {
		placeholder = " value"
	}
	var names []string
	for _, n := range f.Names() {
		dash := "--"
		if len(n) == 1 {
			dash = "-"
		}
		names = append(names, dash+n+placeholder)
	}
	usage := df.GetUsage()
	if _, isBool := f.(*cli.BoolFlag); !isBool {
		if d := df.GetDefaultText(); d != "" {
			usage += " (default: " + d + ")"
		}
	}
	return strings.Join(names, ", ") + "\t" + strings.TrimSpace(usage)
}

// usageError reports a bad global flag as v1 does ("Incorrect Usage."
// then the app's help, on stdout). v2 calls it for the global flags only
// (App.OnUsageError); a command's bad flag gets v2's own report, which is
// v1's ("Incorrect Usage:").
func usageError(c *cli.Context, err error, _ bool) error {
	fmt.Fprintf(c.App.Writer, "Incorrect Usage. %s\n\n", err)
	_ = cli.ShowAppHelp(c)
	return err
}

// urfave/cli v1.22's help templates, which rung's help has always
// printed.
const appHelpTemplate = `NAME:
   {{.Name}}{{if .Usage}} - {{.Usage}}{{end}}

USAGE:
   {{if .UsageText}}{{.UsageText}}{{else}}{{.HelpName}} {{if .VisibleFlags}}[global options]{{end}}{{if .Commands}} command [command options]{{end}} {{if .ArgsUsage}}{{.ArgsUsage}}{{else}}[arguments...]{{end}}{{end}}{{if .Version}}{{if not .HideVersion}}

VERSION:
   {{.Version}}{{end}}{{end}}{{if .Description}}

DESCRIPTION:
   {{.Description}}{{end}}{{if .VisibleCommands}}

COMMANDS:{{range .VisibleCategories}}{{if .Name}}

   {{.Name}}:{{range .VisibleCommands}}
     {{join .Names ", "}}{{"\t"}}{{.Usage}}{{end}}{{else}}{{range .VisibleCommands}}
   {{join .Names ", "}}{{"\t"}}{{.Usage}}{{end}}{{end}}{{end}}{{end}}{{if .VisibleFlags}}

GLOBAL OPTIONS:
   {{range $index, $option := .VisibleFlags}}{{if $index}}
   {{end}}{{$option}}{{end}}{{end}}{{if .Copyright}}

COPYRIGHT:
   {{.Copyright}}{{end}}
`

const commandHelpTemplate = `NAME:
   {{.HelpName}} - {{.Usage}}

USAGE:
   {{if .UsageText}}{{.UsageText}}{{else}}{{.HelpName}}{{if optionFlags .VisibleFlags}} [command options]{{end}} {{if .ArgsUsage}}{{.ArgsUsage}}{{else}}[arguments...]{{end}}{{end}}{{if .Category}}

CATEGORY:
   {{.Category}}{{end}}{{if .Description}}

DESCRIPTION:
   {{.Description}}{{end}}{{if optionFlags .VisibleFlags}}

OPTIONS:
   {{range optionFlags .VisibleFlags}}{{.}}
   {{end}}{{end}}
`

// runApp runs the app on args with runc's argument order. runc is built
// on urfave/cli v1, which moves a command's flags ahead of its arguments
// (`delete ID -f` is `delete -f ID`), except for exec and ps, whose
// arguments after the container ID are a program's. v2 stops parsing at
// the first argument, so the move is made here, before v2 parses.
func runApp(app *cli.App, args []string) error {
	return app.Run(runcOrder(app, args))
}

// inOrder names the commands whose arguments are never moved: everything
// after the container ID is the command line of a process (exec) or of
// the host's ps.
var inOrder = map[string]bool{"exec": true, "ps": true}

// runcOrder is args with the flags of the command moved ahead of its
// other arguments, by v1's rule: a flag is a word that names one of the
// command's flags (with one or two dashes, "=value" or not); a word after
// a flag written without "=" goes with that flag, even after a boolean
// (as v1, and so runc, does: `kill ID --all 9` reads as `kill --all 9 ID`);
// "--" ends the flags, and goes first among the arguments.
func runcOrder(app *cli.App, args []string) []string {
	i, help := commandIndex(app, args)
	if i < 0 {
		return args
	}
	if help {
		// v1 answers a global --help with the app's help whatever
		// follows; v2 would take the command for a help topic.
		return args[:i]
	}
	cmd := app.Command(args[i])
	if cmd == nil || inOrder[cmd.Name] || cmd.SkipFlagParsing {
		return args
	}
	names := map[string]bool{}
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			names[n] = true
		}
	}
	if !cmd.HideHelp && cli.HelpFlag != nil {
		for _, n := range cli.HelpFlag.Names() {
			names[n] = true
		}
	}
	isFlag := func(a string) bool {
		if a == "-" || a == "--" || !strings.HasPrefix(a, "-") {
			return false
		}
		// As v1: "--" and then one more "-" come off ("---bundle" is
		// moved, for the parser to refuse).
		name, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "--"), "-"), "=")
		return names[name]
	}
	var flags, rest []string
	valueNext := false
	for j, a := range args[i+1:] {
		switch {
		case valueNext && !isFlag(a):
			valueNext = false
			flags = append(flags, a)
		case a == "--":
			rest = append(append([]string{"--"}, rest...), args[i+2+j:]...)
			return append(append(append([]string{}, args[:i+1]...), flags...), rest...)
		case isFlag(a):
			flags = append(flags, a)
			valueNext = !strings.Contains(a, "=")
		default:
			rest = append(rest, a)
		}
	}
	return append(append(append([]string{}, args[:i+1]...), flags...), rest...)
}

// commandIndex is the index in args of the command name, after the
// global flags, or -1 when there is none (or a global flag is unknown,
// which the app then reports), and whether the global flags ask for help.
func commandIndex(app *cli.App, args []string) (int, bool) {
	takesValue := map[string]bool{}
	known := map[string]bool{}
	all := append(append([]cli.Flag{}, app.Flags...), cli.HelpFlag, cli.VersionFlag)
	for _, f := range all {
		if f == nil {
			continue
		}
		v, ok := f.(interface{ TakesValue() bool })
		for _, n := range f.Names() {
			known[n] = true
			takesValue[n] = ok && v.TakesValue()
		}
	}
	help := false
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			if i+1 < len(args) {
				return i + 1, help
			}
			return -1, help
		case a == "-" || !strings.HasPrefix(a, "-"):
			return i, help
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if !known[name] {
			return -1, help
		}
		if takesValue[name] && !hasValue {
			i++
		}
		if cli.HelpFlag != nil && slices.Contains(cli.HelpFlag.Names(), name) {
			on, err := strconv.ParseBool(value)
			help = !hasValue || on && err == nil
		}
	}
	return -1, help
}
