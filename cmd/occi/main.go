// Command occi is the command-line client of OCCI 1.2 servers such as
// occid: discovery, listing, creating, updating and deleting resources and
// links, actions (including saving a compute as a new OS template and
// waiting for it), mixins, and "occi selftest", which checks any OCCI 1.2
// server with the project's service conformance suite. See docs/cli.md and
// occi help.
//
// Exit codes: 0 success; 1 usage error (bad flags or arguments, a malformed
// value, an ambiguous term); 2 the server refused the request (400, 405,
// 413 and other 4xx not listed here); 3 not found (404, or a term the
// server's discovery does not have); 4 conflict or failed precondition
// (409, 412); 5 server error (5xx) or server unreachable; 6 authentication
// or permission refused (401, 403); 7 selftest ran and at least one check
// failed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"

	"github.com/occid/occi"
	"github.com/occid/occi/occiclient"
)

// Exit codes scripts can rely on.
const (
	exitOK           = 0
	exitUsage        = 1
	exitRejected     = 2
	exitNotFound     = 3
	exitConflict     = 4
	exitServer       = 5
	exitAuth         = 6
	exitChecksFailed = 7
)

// version is occi's version; set it with -ldflags "-X main.version=1.0.0".
var version = ""

func clientVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs occi with args (without the program name) and returns the exit
// code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr, getenv: os.Getenv, configDir: os.UserConfigDir}
	if f, ok := stderr.(*os.File); ok {
		a.stderrTTY = isTerminal(f)
	}
	return a.main(ctx, args)
}

// app is one run of the program, with its outside world.
type app struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	configDir      func() (string, error)
	// stderrTTY says whether stderr is a terminal (progress is redrawn in
	// place there, printed line by line otherwise).
	stderrTTY bool
}

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errChecksFailed is returned by selftest when a check failed.
var errChecksFailed = errors.New("some checks failed")

// exitCode maps an error to the program's exit code.
func exitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue), errors.Is(err, flag.ErrHelp):
		return exitUsage
	case errors.Is(err, errChecksFailed):
		return exitChecksFailed
	}
	code := occi.ErrorCode(err)
	if !occiclient.FromServer(err) && code == occi.InvalidArgument {
		return exitUsage
	}
	switch code {
	case occi.NotFound:
		return exitNotFound
	case occi.AlreadyExists, occi.Conflict, occi.FailedPrecondition, occi.PreconditionFailed:
		return exitConflict
	case occi.Unauthenticated, occi.PermissionDenied:
		return exitAuth
	case occi.InvalidArgument, occi.MethodNotAllowed, occi.TooLarge:
		return exitRejected
	}
	return exitServer
}

// command is one subcommand.
type command struct {
	name     string
	args     string // synopsis of the arguments
	summary  string
	minArgs  int
	maxArgs  int // -1: any number
	setFlags func(fs *flag.FlagSet, o *cmdOpts)
	run      func(ctx context.Context, x *execution, args []string) error
	// noClient: the command builds its own client(s) or needs none.
	noClient bool
}

// cmdOpts holds every command's own flags.
type cmdOpts struct {
	kinds, mixins, actions bool
	attrs, mixinIDs, links multiFlag
	osTpl, resTpl          string
	title, summary, id     string
	source, target         string
	method, name           string
	wait                   bool
	kind, scheme           string
	page, number           int
	interval               string
	secondToken            string
	names                  string
	secondUser             string
	secondPassword         string
	run                    string
	verbose                bool
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

var commands []*command

func init() {
	commands = []*command{
		cmdModel, cmdList, cmdDescribe, cmdCreate, cmdUpdate, cmdDelete, cmdAction, cmdSave,
		cmdLink, cmdUnlink, cmdMixin, cmdSelftest, cmdVersion,
	}
}

func findCommand(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// parseInterleaved parses flags that may come before, between and after
// positional arguments; "--" ends the flags.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		// fs.Parse consumed "--" if it stopped there: everything after it
		// is positional.
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func (a *app) main(ctx context.Context, args []string) int {
	var fv flagValues
	top := flag.NewFlagSet("occi", flag.ContinueOnError)
	top.SetOutput(io.Discard)
	addGlobalFlags(top, &fv)
	help := top.Bool("help", false, "")
	top.BoolVar(help, "h", false, "")
	if err := top.Parse(args); err != nil {
		fmt.Fprintf(a.stderr, "occi: %v (see occi help)\n", err)
		return exitUsage
	}
	fv.record(top)
	rest := top.Args()
	if *help || len(rest) == 0 {
		a.usage(a.stdout)
		if len(rest) == 0 && !*help {
			return exitUsage
		}
		return exitOK
	}
	name := rest[0]
	if name == "help" {
		if len(rest) > 1 {
			if c := findCommand(rest[1]); c != nil {
				a.commandUsage(a.stdout, c)
				return exitOK
			}
			fmt.Fprintf(a.stderr, "occi: unknown command %q (see occi help)\n", rest[1])
			return exitUsage
		}
		a.usage(a.stdout)
		return exitOK
	}
	c := findCommand(name)
	if c == nil {
		fmt.Fprintf(a.stderr, "occi: unknown command %q (see occi help)\n", name)
		return exitUsage
	}
	fs := flag.NewFlagSet("occi "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addGlobalFlags(fs, &fv)
	var o cmdOpts
	if c.setFlags != nil {
		c.setFlags(fs, &o)
	}
	pos, err := parseInterleaved(fs, rest[1:])
	if errors.Is(err, flag.ErrHelp) {
		a.commandUsage(a.stdout, c)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "occi %s: %v (see occi help %s)\n", name, err, name)
		return exitUsage
	}
	fv.record(fs)
	if len(pos) < c.minArgs || (c.maxArgs >= 0 && len(pos) > c.maxArgs) {
		fmt.Fprintf(a.stderr, "occi %s: want arguments %s, got %d (see occi help %s)\n", name, c.args, len(pos), name)
		return exitUsage
	}
	g, err := fv.resolve(a.getenv, a.configDir)
	if err != nil {
		fmt.Fprintf(a.stderr, "occi: %v\n", err)
		return exitUsage
	}
	x := &execution{app: a, g: g, o: &o, cmd: c}
	if g.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, g.Timeout)
		defer cancel()
	}
	if !c.noClient {
		x.client, err = occiclient.New(g.Endpoint, occiclient.Options{
			Rendering: g.Rendering, Token: g.Token, User: g.User, Password: g.Password,
			UserAgent: "occi/" + clientVersion() + " OCCI/1.2",
		})
		if err != nil {
			fmt.Fprintf(a.stderr, "occi: %v\n", err)
			return exitUsage
		}
	}
	err = c.run(ctx, x, pos)
	if err == nil {
		return exitOK
	}
	if !errors.Is(err, errChecksFailed) {
		fmt.Fprintf(a.stderr, "occi %s: %s\n", name, describeError(err))
	}
	return exitCode(err)
}

// describeError says what went wrong: the server's message and the HTTP
// status for answers of the server.
func describeError(err error) string {
	return occiclient.ErrorText(err)
}

func (a *app) usage(w io.Writer) {
	fmt.Fprint(w, `Usage: occi [global flags] COMMAND [arguments] [flags]

occi is a command-line client of OCCI 1.2 servers such as occid.

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `  help      help about a command: occi help COMMAND

Global flags (anywhere on the line; a flag beats the environment variable,
which beats the config file, which beats the default):
`)
	for _, s := range settings {
		def := s.def
		if def == "" {
			def = "none"
		}
		fmt.Fprintf(w, "  --%-10s %s\n               env %s, default %s\n", s.name, s.usage, s.env, def)
	}
	fmt.Fprint(w, `  --config     config file of "key = value" lines with the keys above
               env OCCI_CONFIG, default ~/.config/occi/config
  --timeout    give up after this long, e.g. 30s (default 5m)
  -q, --quiet  print only locations (or nothing), for scripts

Names: a kind, mixin or action may be given by its term (compute, ssh_key,
ubuntu-24.04, start) or its full type identifier; a location by its path
(/compute/ID) or its absolute URL.

Exit codes: 0 ok, 1 usage error, 2 refused by the server (4xx), 3 not found
(404), 4 conflict or failed precondition (409, 412), 5 server error (5xx) or
unreachable, 6 not authenticated or not allowed (401, 403), 7 selftest
checks failed.
`)
}

func (a *app) commandUsage(w io.Writer, c *command) {
	fmt.Fprintf(w, "Usage: occi %s %s\n\n%s\n", c.name, c.args, c.summary)
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	var o cmdOpts
	if c.setFlags != nil {
		c.setFlags(fs, &o)
	}
	var lines []string
	fs.VisitAll(func(f *flag.Flag) {
		lines = append(lines, fmt.Sprintf("  --%s\n      %s", f.Name, f.Usage))
	})
	slices.Sort(lines)
	if len(lines) > 0 {
		fmt.Fprintf(w, "\nFlags:\n%s\n", strings.Join(lines, "\n"))
	}
	fmt.Fprint(w, "\nGlobal flags: see occi help.\n")
}
