package main

import (
	"fmt"
	"strings"

	"github.com/coffer-backup/coffer/internal/termsafe"
)

// Human output (docs/cli.md, "How names are printed") shows every name
// that comes from a store, a server or another device through
// termsafe.Name, and every message on stderr through say, so that no such
// string can control the terminal or forge a line. --json output is exact.

// say prints "coffer: " and a message on stderr, as one line: its
// unsafe characters are escaped (termsafe.Text), names already escaped in
// it are kept as they are.
func (e *env) say(format string, args ...any) {
	fmt.Fprintf(e.stderr, "coffer: %s\n", termsafe.Text(fmt.Sprintf(format, args...)))
}

// joinNames escapes each name with termsafe.Name and joins them with sep.
func joinNames(names []string, sep string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = termsafe.Name(n)
	}
	return strings.Join(out, sep)
}
