package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// tableFlags returns, for each command of the table, the flags its parser
// takes, global ones included: what completion and the man page must name.
func tableFlags(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for name, c := range commands() {
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		globalFlags(fs, &opts{})
		if c.setup != nil {
			c.setup(fs, &opts{})
		}
		fs.VisitAll(func(f *flag.Flag) { out[name] = append(out[name], f.Name) })
		if len(out[name]) < 3 {
			t.Fatalf("%s has only %v", name, out[name])
		}
	}
	return out
}

func dashed(f string) string {
	if len(f) == 1 {
		return "-" + f
	}
	return "--" + f
}

// runCoffer runs the command in this process and returns its stdout.
func runCoffer(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(args, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("coffer %v: exit %d: %s", args, code, stderr.String())
	}
	return stdout.String()
}

// section returns the part of out that begins with a line matching start
// and ends before the next line matching end.
func section(t *testing.T, out string, start, end *regexp.Regexp) string {
	t.Helper()
	loc := start.FindStringIndex(out)
	if loc == nil {
		t.Errorf("no %s", start)
		return ""
	}
	rest := out[loc[1]:]
	if e := end.FindStringIndex(rest); e != nil {
		rest = rest[:e[0]]
	}
	return rest
}

// TestReferenceCoversTable: every command of the table, and every flag
// its parser takes, is in each completion script, where that command's
// completion reads it, and in its section of the man page.
func TestReferenceCoversTable(t *testing.T) {
	table := tableFlags(t)
	bash := runCoffer(t, "completion", "bash")
	zsh := runCoffer(t, "completion", "zsh")
	fish := runCoffer(t, "completion", "fish")
	man := runCoffer(t, "man")
	for cmd, flags := range table {
		q := regexp.QuoteMeta(cmd)
		bashLine := section(t, bash, regexp.MustCompile(`(?m)^ *'`+q+`'\) flags='`), regexp.MustCompile(`'`))
		zshFunc := section(t, zsh, regexp.MustCompile(`(?m)^_coffer_`+strings.ReplaceAll(q, "-", "_")+`\(\) \{$`), regexp.MustCompile(`(?m)^\}$`))
		manSec := section(t, man, regexp.MustCompile(`(?m)^\.SS "`+strings.ReplaceAll(q, "-", `\\-`)+`"$`), regexp.MustCompile(`(?m)^\.S[SH] `))
		if !regexp.MustCompile(`(?m)^complete -c 'coffer' -n __fish_use_subcommand -a '` + q + `' `).MatchString(fish) {
			t.Errorf("fish: no command %s", cmd)
		}
		for _, f := range flags {
			d := dashed(f)
			if !strings.Contains(" "+bashLine+" ", " "+d+" ") {
				t.Errorf("bash: %s has no %s", cmd, d)
			}
			if !strings.Contains(zshFunc, "'*"+d+"[") {
				t.Errorf("zsh: %s has no %s", cmd, d)
			}
			opt := "-l '" + f + "'"
			if len(f) == 1 {
				opt = "-s '" + f + "'"
			}
			if !strings.Contains(fish, "-n '__fish_seen_subcommand_from "+cmd+"' "+opt+" ") {
				t.Errorf("fish: %s has no %s", cmd, d)
			}
			inMan := manSec
			if isGlobal(f) {
				inMan = section(t, man, regexp.MustCompile(`(?m)^\.SH "GLOBAL FLAGS"$`), regexp.MustCompile(`(?m)^\.SH `))
			}
			if !strings.Contains(inMan, `.B "`+strings.ReplaceAll(d, "-", `\-`)) && !strings.Contains(inMan, `.BI "`+strings.ReplaceAll(d, "-", `\-`)+` "`) {
				t.Errorf("man: %s has no %s", cmd, d)
			}
		}
	}
}

func isGlobal(name string) bool {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	globalFlags(fs, &opts{})
	return fs.Lookup(name) != nil
}

// TestReferenceShells checks the scripts with the shells' own parsers and
// renders the man page, where those tools are installed.
func TestReferenceShells(t *testing.T) {
	for _, tc := range []struct {
		tool string
		args []string
		out  string
	}{
		{"bash", []string{"-n"}, runCoffer(t, "completion", "bash")},
		{"zsh", []string{"-n"}, runCoffer(t, "completion", "zsh")},
		{"fish", []string{"--no-execute"}, runCoffer(t, "completion", "fish")},
		{"groff", []string{"-man", "-Tutf8", "-ww", "-z"}, runCoffer(t, "man")},
	} {
		t.Run(tc.tool, func(t *testing.T) {
			path, err := exec.LookPath(tc.tool)
			if err != nil && os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed (make shells installs it)", tc.tool)
			} else if err != nil {
				t.Skipf("%s is not installed", tc.tool)
			}
			cmd := exec.Command(path, tc.args...)
			cmd.Stdin = strings.NewReader(tc.out)
			if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
				t.Fatalf("%s: %v\n%s", tc.tool, err, out)
			}
		})
	}
}
