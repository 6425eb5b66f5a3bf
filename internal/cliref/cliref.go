// Package cliref generates a command-line program's reference from a
// neutral description of its commands and flags: shell completion scripts
// for bash, zsh and fish, and a man page in roff (section 1). It does no
// I/O but writing to the io.Writer it is given; the program describes
// itself (from its own command table) and prints the result.
//
// Every command and every flag of the description appears in every output:
// a generator never drops one.
package cliref

import (
	"strings"
)

// Program describes a command-line program.
type Program struct {
	Name     string // the executable, e.g. "coffer"
	Summary  string // one line, lower case, no final full stop
	Synopsis string // e.g. "COMMAND [flags] [args]"
	Version  string // shown in the man page's footer
	Date     string // shown in the man page's footer; may be empty
	// Description is the man page's DESCRIPTION, one paragraph per entry.
	Description []string
	Global      []Flag    // flags every command takes
	Commands    []Command // in the order listed
	// Sections follow COMMANDS in the man page, e.g. ENVIRONMENT, EXIT
	// STATUS, SEE ALSO.
	Sections []Section
}

// Command is one subcommand of the program.
type Command struct {
	Name        string   // a plain word: letters, digits, "-" and "_"
	Args        string   // usage of its arguments, as help shows it
	Summary     string   // one line
	Subcommands []string // words that may come first, such as "add" "list"
	Flags       []Flag
	// Paths is set when its positional arguments are files or
	// directories, which completion then offers.
	Paths bool
}

// Flag is one flag of a command (or of all, Program.Global).
type Flag struct {
	Name  string // without dashes; one letter for a short flag; a plain word
	Usage string
	// Value names the value a flag takes ("" for a boolean flag, which
	// takes none).
	Value string
	// Choices are the values a flag takes, when they are few; completion
	// offers them.
	Choices []string
	Path    bool // its value is a file or directory, which completion offers
}

// Section is a titled section of the man page: paragraphs, then a list
// of terms with their text.
type Section struct {
	Title      string // upper case, as man pages have them
	Paragraphs []string
	Items      []Item
}

// Item is a term and its description.
type Item struct {
	Term, Text string
}

// takesValue reports whether the flag is followed by a value.
func (f Flag) takesValue() bool { return f.Value != "" }

// dashed returns the flag as typed: "-v" for one letter, "--name" else.
func (f Flag) dashed() string {
	if len(f.Name) == 1 {
		return "-" + f.Name
	}
	return "--" + f.Name
}

// allFlags returns the program's global flags and the command's.
func (p *Program) allFlags(c *Command) []Flag {
	return append(append([]Flag{}, p.Global...), c.Flags...)
}

// short returns the first clause of a usage text, for the one-line
// descriptions completion shows.
func short(s string) string {
	for _, sep := range []string{"; ", " (", ": "} {
		if i := strings.Index(s, sep); i > 0 {
			s = s[:i]
		}
	}
	const max = 72
	if r := []rune(s); len(r) > max {
		s = string(r[:max-1]) + "…"
	}
	return s
}

// valueFlags returns, once each, the dashed names of every flag of the
// program that takes a value.
func (p *Program) valueFlags() []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range p.Commands {
		for _, f := range p.allFlags(&c) {
			if f.takesValue() && !seen[f.Name] {
				seen[f.Name] = true
				out = append(out, f.dashed())
			}
		}
	}
	return out
}
