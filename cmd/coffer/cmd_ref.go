package main

import (
	"context"
	"flag"
	"io"
	"sort"
	"strings"

	"github.com/coffer-backup/coffer/internal/buildinfo"
	"github.com/coffer-backup/coffer/internal/cliref"
)

// refShells are the shells 'coffer completion' writes scripts for.
var refShells = map[string]func(io.Writer, *cliref.Program) error{
	"bash": cliref.Bash, "zsh": cliref.Zsh, "fish": cliref.Fish,
}

func runCompletion(_ context.Context, e *env, args []string) error {
	if len(args) != 1 || refShells[args[0]] == nil {
		return usageError{"usage: coffer completion bash|zsh|fish"}
	}
	return refShells[args[0]](e.stdout, describe())
}

func runMan(_ context.Context, e *env, args []string) error {
	if len(args) > 0 {
		return usageError{"man takes no arguments"}
	}
	return cliref.Man(e.stdout, describe())
}

// The parts of the reference the command table does not say.
var (
	// refSubcommands are the words that may begin a command's arguments.
	refSubcommands = map[string][]string{
		"device": {"add", "list", "remove"}, "passphrase": {"change"}, "recovery-key": {"rotate"},
		"recovery-contact": {"add", "help"}, "witness": {"serve"}, "serve": {"migrate"}, "completion": {"bash", "zsh", "fish"},
	}
	// refPathArgs are the commands whose arguments are files or directories.
	refPathArgs = map[string]bool{"backup": true, "mount": true}
	// refPathFlags are the flags whose values are files or directories.
	refPathFlags = map[string]bool{"store": true, "target": true, "exclude-file": true, "data": true,
		"tls-cert": true, "tls-key": true, "registration-token-file": true}
	// refChoices are the values of flags that take one of a few.
	refChoices = map[string][]string{"overwrite": {"always", "if-changed", "never"}, "group-by": {"host", "paths", "tags", "device"}}
)

// describe builds the program's description for cliref from the command
// table and each command's flag set: every command and every flag, as the
// parser knows them.
func describe() *cliref.Program {
	info := buildinfo.Read(version)
	p := &cliref.Program{
		Name: "coffer", Summary: "end-to-end encrypted, deduplicated backups", Synopsis: "COMMAND [flags] [args]",
		Version: info.Version, Date: strings.SplitN(info.Time, "T", 2)[0],
		Description: refDescription,
		Global:      refFlags(func(fs *flag.FlagSet, o *opts) { globalFlags(fs, o) }),
		Sections:    refSections,
	}
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := cmds[n]
		p.Commands = append(p.Commands, cliref.Command{Name: c.name, Args: c.args, Summary: c.summary,
			Subcommands: refSubcommands[c.name], Paths: refPathArgs[c.name], Flags: refFlags(c.setup)})
	}
	return p
}

// refFlags lists the flags setup registers, in name order.
func refFlags(setup func(*flag.FlagSet, *opts)) []cliref.Flag {
	if setup == nil {
		return nil
	}
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	setup(fs, &opts{})
	var out []cliref.Flag
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			name = ""
		}
		out = append(out, cliref.Flag{Name: f.Name, Usage: usage, Value: strings.ToUpper(name),
			Choices: refChoices[f.Name], Path: refPathFlags[f.Name]})
	})
	return out
}

var refDescription = []string{
	"Coffer makes end-to-end encrypted, deduplicated backups into a store that can read nothing it holds: a directory, a prefix of an S3 bucket, or a Coffer server (coffer serve). Keys live only on the account's devices.",
	"Results go to standard output, with --json as JSON; messages go to standard error as 'coffer: error: ...' and 'coffer: hint: ...'. Flags may come before or after the arguments; -- ends them. Run 'coffer COMMAND -h' for a command's flags. The full reference, with every --json output, is docs/cli.md.",
}

var refSections = []cliref.Section{
	{Title: "ENVIRONMENT", Items: []cliref.Item{
		{Term: "COFFER_STORE", Text: "the store, when --store is not given (default: the store of the last init)."},
		{Term: "COFFER_HOME", Text: "where this device's keys and settings live (default $XDG_CONFIG_HOME/coffer, else ~/.config/coffer)."},
		{Term: "COFFER_PASSPHRASE, COFFER_PASSPHRASE_FILE, COFFER_PASSPHRASE_COMMAND", Text: "the passphrase of this device's keys: itself, a file holding it, or a command printing it (sh -c; its first line), in this order after --passphrase-command, before a prompt."},
		{Term: "COFFER_NEW_PASSPHRASE, COFFER_NEW_PASSPHRASE_FILE", Text: "the new passphrase of 'coffer passphrase change'."},
		{Term: "COFFER_ACCOUNT", Text: "the account of a server store, instead of the one this device remembers."},
		{Term: "COFFER_RECOVERY_KEY, COFFER_RECOVERY_KEY_FILE", Text: "the recovery key of 'coffer recover'."},
		{Term: "COFFER_CONTACT_CODES, COFFER_CONTACT_CODES_FILE", Text: "the recovery contacts' codes of 'coffer recover --contact'."},
		{Term: "COFFER_PAIRING_CODE", Text: "the pairing code of 'coffer join'."},
		{Term: "COFFER_REGISTRATION_TOKEN", Text: "the token 'coffer init' sends to a server started with --registration-token-file."},
		{Term: "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION, AWS_PROFILE", Text: "credentials and region of an s3:// store."},
	}},
	{Title: "EXIT STATUS", Items: []cliref.Item{
		{Term: "0", Text: "success."},
		{Term: "1", Text: "error: nothing was changed, or the operation stopped."},
		{Term: "2", Text: "bad usage: unknown command, bad flag, missing argument."},
		{Term: "3", Text: "a backup wrote its snapshot, but some items could not be read and were left out; or backup --dry-run found such items."},
	}},
	{Title: "SEE ALSO", Paragraphs: []string{"docs/cli.md, docs/format.md and docs/security.md in Coffer's source; restic(1)."}},
}
