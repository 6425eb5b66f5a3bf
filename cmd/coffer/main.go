// Command coffer makes end-to-end encrypted, deduplicated backups. It only
// parses the command line and presents results; the work is done by the
// packages under internal/.
//
// Exit codes (docs/cli.md): 0 success; 1 error; 2 bad usage; 3 a backup
// finished but some files could not be read.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/coffer-backup/coffer/internal/buildinfo"
	"github.com/coffer-backup/coffer/internal/memtune"
	"github.com/coffer-backup/coffer/internal/snapshot"
	"github.com/coffer-backup/coffer/internal/webui"
)

// Exit codes.
const (
	exitOK      = 0
	exitError   = 1
	exitUsage   = 2
	exitPartial = 3
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	tuneGC()
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// tuneGC keeps a command's heap near the soft memory limit rather than
// bounding it by GOGC: backups keep large buffers alive, and the limit
// makes the collector run more often only as the heap nears it, while
// memtune raises it whenever the live data (a large repository's index)
// comes near it, so the collector never runs without pause. Below the
// limit GOGC 200 lets the heap triple before a collection: an unchanged
// re-backup of the SCALE=4 corpus, whose live heap is some 15 MiB once the
// unlock's arena is freed, then collects a few times instead of every few
// MiB (median 0.455 -> 0.36 s, CPU 0.66 -> 0.50 s against GOGC 50), and a
// first backup or a restore, whose heap the soft limit holds near 125 MiB
// either way, peaks at 136-139 MiB resident instead of 130-136. The same
// holds for serve and witness, long-running, whose live heap is small. GOGC
// and GOMEMLIMIT, when set, take precedence; with GOMEMLIMIT set and GOGC
// not, the heap may grow to three times the live data up to that limit.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		memtune.Start(memoryLimit)
	}
}

// memoryLimit is the soft limit tuneGC starts from: with the process's
// other memory, a first backup's peak resident memory stays under 150 MiB
// (issue 10's target; bench/README.md).
const memoryLimit = 125 << 20

// command is one subcommand: its flags, and what it does.
type command struct {
	name    string
	args    string // usage of positional arguments
	summary string
	setup   func(fs *flag.FlagSet, o *opts)
	run     func(ctx context.Context, e *env, args []string) error
	noKeys  bool // never unlocks this device's keys: no Argon2id arena is prewarmed
}

// opts holds every flag of every command; each command registers the ones it
// takes.
type opts struct {
	json, quiet, verbose, noCache             bool
	passCommand                               string // --passphrase-command
	store, target, host, parent               string
	excludes, tags, includes                  multi
	readData, oneDevice, prune, dryRun, force bool // oneDevice: backup --one-file-system
	keep                                      snapshot.Policy
	timeout                                   time.Duration
	name, code, account, device               string
	contact, appendOnly                       bool
	threshold                                 int
	logKey, accountName                       string
	witnesses, fingerprints                   multi
	witnessThreshold                          int
	data, listen                              string // coffer witness serve
	s3Endpoint                                string
	logKeys                                   multi
	filter                                    snapshot.Filter // --host, --tag, --path of commands that select snapshots
	ignoreSessions                            multi           // prune --ignore-session
	snapshots                                 multi           // coffer find --snapshot
	newest                                    int             // coffer find --newest
	yes                                       bool            // coffer web approve --yes
	duration                                  time.Duration   // coffer web approve --duration
	tagAdd, tagRemove                         multi           // coffer tag
	tagSet                                    tagSetFlag      // coffer tag --set
	compression                               string          // backup --compression
	filterOpts
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

// usageError marks errors in the command line itself.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

// partialError marks a backup that completed without some files, or a
// dry run that found files a backup would leave out.
type partialError struct {
	n      int
	dryRun bool
}

func (p partialError) Error() string {
	if p.dryRun {
		return fmt.Sprintf("dry run: %d items could not be read (listed above); a backup would leave them out", p.n)
	}
	return fmt.Sprintf("backup completed, but %d items could not be read (listed above)", p.n)
}

type hinted struct {
	err  error
	hint string
}

func (h hinted) Error() string { return h.err.Error() }
func (h hinted) Unwrap() error { return h.err }

func withHint(err error, hint string) error { return hinted{err, hint} }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	args = commandFirst(args)
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(stdout)
		return exitOK
	}
	if args[0] == "version" || args[0] == "--version" {
		return e.printVersion(args[1:])
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		return e.fail(usageError{fmt.Sprintf("unknown command %q (run 'coffer help')", args[0])})
	}
	if !cmd.noKeys {
		e.prewarm()
	}
	fs := flag.NewFlagSet("coffer "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	globalFlags(fs, &e.o)
	if cmd.setup != nil {
		cmd.setup(fs, &e.o)
	}
	pos, err := parseInterleaved(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stdout, "usage: coffer %s %s\n\n%s\n\nflags:\n", cmd.name, cmd.args, cmd.summary)
		printFlags(stdout, fs)
		return exitOK
	}
	if err != nil {
		return e.fail(usageError{asTyped(err.Error(), args[1:])})
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return e.fail(cmd.run(ctx, e, pos))
}

// printFlags lists the flags of fs as they are typed: "--name VALUE" (or
// "-v" for one letter), then the usage and any default, indented.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		dashes := "--"
		if len(f.Name) == 1 {
			dashes = "-"
		}
		name, usage := flag.UnquoteUsage(f)
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			name = ""
		} else {
			name = " " + strings.ToUpper(name)
		}
		fmt.Fprintf(w, "  %s%s%s\n    \t%s", dashes, f.Name, name, strings.ReplaceAll(usage, "\n", "\n    \t"))
		if d := f.DefValue; d != "" && d != "false" && d != "0" && d != "[]" {
			fmt.Fprintf(w, " (default %s)", d)
		}
		fmt.Fprintln(w)
	})
}

// globalFlags are the flags every command takes.
func globalFlags(fs *flag.FlagSet, o *opts) {
	fs.BoolVar(&o.json, "json", false, "print machine-readable JSON on stdout")
	fs.BoolVar(&o.quiet, "quiet", false, "print no progress")
	fs.BoolVar(&o.quiet, "q", false, "short for --quiet")
	fs.BoolVar(&o.noCache, "no-cache", false, "read index objects, snapshots and tree packs from the store, not from this device's local cache")
	fs.StringVar(&o.passCommand, "passphrase-command", "", "run this with sh -c and take the first line it prints as the passphrase of this device's keys (default $COFFER_PASSPHRASE_COMMAND, after $COFFER_PASSPHRASE and its _FILE)")
}

// commandFirst moves flags given before the command name after it, so that
// "coffer --json --store DIR snapshots" works like "coffer snapshots --json
// --store DIR".
func commandFirst(args []string) []string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-h" || a == "--help" || a == "--version" || a == "--":
			return args
		case !strings.HasPrefix(a, "-"):
			if i == 0 {
				return args
			}
			out := append([]string{a}, args[:i]...)
			return append(out, args[i+1:]...)
		case valueFlags[strings.TrimLeft(a, "-")]:
			i++ // its value follows
		}
	}
	return args
}

// valueFlags are the flags that take their value as the next argument.
var valueFlags = map[string]bool{
	"store": true, "target": true, "host": true, "parent": true, "exclude": true, "tag": true, "include": true,
	"keep-last": true, "keep-hourly": true, "keep-daily": true, "keep-weekly": true, "keep-monthly": true, "keep-yearly": true,
	"timeout": true, "code": true, "name": true, "account": true, "threshold": true, "fingerprint": true,
	"data": true, "listen": true, "log": true, "tls-cert": true, "tls-key": true, "quota": true, "rate": true, "budget": true,
	"registration-token-file": true, "log-origin": true, "witness": true, "log-key": true, "witness-threshold": true,
	"s3-endpoint": true, "objects": true, "db": true, "device": true, "path": true, "ignore-session": true,
	"snapshot": true, "newest": true, "duration": true, "keep-within": true, "keep-tag": true, "group-by": true,
	"add": true, "remove": true, "set": true, "passphrase-command": true,
	"iexclude": true, "exclude-file": true, "exclude-if-present": true, "exclude-larger-than": true, "overwrite": true,
}

// parseInterleaved lets flags come before or after positional arguments, as
// users of restic expect; "--" ends flag parsing.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// flagInMessage finds the flag the flag package names in its errors,
// always with one dash.
var flagInMessage = regexp.MustCompile(`(not defined: |for flag |for |needs an argument: )-([^\s:=]+)`)

// asTyped rewrites the flag package's message so that it names the flag
// as the user typed it: "--name" for "--name" or "--name=…", else "-name".
func asTyped(msg string, args []string) string {
	return flagInMessage.ReplaceAllStringFunc(msg, func(m string) string {
		sub := flagInMessage.FindStringSubmatch(m)
		name := "-" + sub[2]
		for _, a := range args {
			if a == "--" {
				break
			}
			if a == "-"+name || strings.HasPrefix(a, "-"+name+"=") {
				name = "-" + name
				break
			}
		}
		return sub[1] + name
	})
}

// fail prints err as a one-line message (with say) and returns the exit
// code.
func (e *env) fail(err error) int {
	if err == nil {
		return exitOK
	}
	var ue usageError
	var pe partialError
	code := exitError
	switch {
	case errors.As(err, &ue):
		code = exitUsage
	case errors.As(err, &pe):
		code = exitPartial
	}
	e.say("error: %s", strings.ReplaceAll(err.Error(), "\n", " "))
	var h hinted
	if errors.As(err, &h) {
		e.say("hint: %s", h.hint)
	}
	return code
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, "coffer: end-to-end encrypted, deduplicated backups\n\nusage: coffer COMMAND [flags] [args]\n\ncommands:\n")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
	fmt.Fprint(w, "\nEvery command takes --json and --store (default: $COFFER_STORE, else the store of the last init).\nRun 'coffer COMMAND -h' for its flags. Exit codes: 0 ok, 1 error, 2 bad usage, 3 backup with unreadable files.\n")
}

// printVersion prints the build's version, VCS revision and time, as one
// line or, with --json, as buildinfo.Info.
func (e *env) printVersion(args []string) int {
	e.o.json = slices.Contains(args, "--json")
	info := buildinfo.Read(version)
	info.WebApp = webui.BuildHash()
	if err := e.emit(info, func(w io.Writer) { fmt.Fprintf(w, "%s\nweb app sha256:%s\n", info, info.WebApp) }); err != nil {
		return e.fail(err)
	}
	return exitOK
}
