package cliref

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// sample is a program whose texts hold what each output must escape.
func sample() *Program {
	return &Program{
		Name: "prog", Summary: "does things", Synopsis: "COMMAND [flags]", Version: "v1.2.3", Date: "2026-12-07",
		Description: []string{"First paragraph with a \\backslash and -dashes.", ".starts with a dot", "'starts with a quote"},
		Global: []Flag{
			{Name: "json", Usage: "print JSON"},
			{Name: "q", Usage: "short for --quiet"},
		},
		Commands: []Command{
			{Name: "backup", Args: "PATH... [--tag T]", Summary: "back up: files [and] directories", Paths: true, Flags: []Flag{
				{Name: "store", Value: "LOCATION", Path: true, Usage: "the store's location (a directory); it's \"quoted\" and has [brackets]: yes"},
				{Name: "tag", Value: "T", Usage: "tag it, repeatable, as s3://…/ say ü"},
				{Name: "v", Usage: "short for --verbose"},
			}},
			{Name: "restore", Args: "SNAP --target DIR", Summary: "restore a snapshot", Flags: []Flag{
				{Name: "overwrite", Value: "MODE", Choices: []string{"always", "if-changed", "never"}, Usage: "what to do"},
				{Name: "target", Value: "DIR", Path: true, Usage: "where to"},
			}},
			{Name: "device", Args: "add | list | remove ID", Summary: "manage devices", Subcommands: []string{"add", "list", "remove"}, Flags: []Flag{
				{Name: "timeout", Value: "D", Usage: "how long"},
			}},
			{Name: "odd-name_2", Summary: "a name with a dash and an underscore"},
		},
		Sections: []Section{{Title: "EXIT STATUS", Items: []Item{{"0", "success"}, {"2", "bad usage: -x"}}}},
	}
}

func generate(t *testing.T, gen func(io.Writer, *Program) error) string {
	t.Helper()
	var b bytes.Buffer
	if err := gen(&b, sample()); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// checkSyntax runs a shell's syntax check on script, or skips if the
// shell is not installed.
func checkSyntax(t *testing.T, script string, shell string, args ...string) {
	t.Helper()
	path := lookTool(t, shell)
	f := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(path, append(args, f)...).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("%s %v: %v\n%s\n%s", shell, args, err, out, script)
	}
}

func TestBashSyntax(t *testing.T) { checkSyntax(t, generate(t, Bash), "bash", "-n") }
func TestZshSyntax(t *testing.T)  { checkSyntax(t, generate(t, Zsh), "zsh", "-n") }
func TestFishSyntax(t *testing.T) { checkSyntax(t, generate(t, Fish), "fish", "--no-execute") }

// TestBashCompletes sources the script in a real bash and asks it to
// complete command lines, as bash-completion would.
func TestBashCompletes(t *testing.T) {
	bash := lookTool(t, "bash")
	dir := t.TempDir()
	script := filepath.Join(dir, "prog.bash")
	if err := os.WriteFile(script, []byte(generate(t, Bash)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"file-a", "file-b"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		line string // the words typed; the last is completed
		want []string
	}{
		{"prog ", []string{"backup", "restore", "device", "odd-name_2"}},
		{"prog re", []string{"restore"}},
		{"prog backup --", []string{"--json", "--store", "--tag"}},
		{"prog backup -", []string{"--json", "-q", "--store", "--tag", "-v"}},
		{"prog backup file-", []string{"file-a", "file-b"}},
		{"prog backup --store file-", []string{"file-a", "file-b"}},
		{"prog backup --tag ", nil},
		{"prog --json backup --tag x file-", []string{"file-a", "file-b"}},
		{"prog restore --overwrite ", []string{"always", "if-changed", "never"}},
		{"prog restore --overwrite if", []string{"if-changed"}},
		{"prog restore latest file-", nil},
		{"prog restore --target file-", []string{"file-a", "file-b"}},
		{"prog device ", []string{"add", "list", "remove"}},
		{"prog device --timeout 1m r", []string{"remove"}},
		{"prog device remove ", nil},
		{"prog unknown ", nil},
	} {
		words := strings.Split(tc.line, " ")
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = shq(w)
		}
		prog := "source " + shq(script) + "; COMP_WORDS=(" + strings.Join(quoted, " ") + "); COMP_CWORD=" +
			itoa(len(words)-1) + "; _prog; printf '%s\\n' \"${COMPREPLY[@]}\""
		cmd := exec.Command(bash, "--norc", "--noprofile", "-c", prog)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", tc.line, err, out)
		}
		got := strings.Fields(string(out))
		slices.Sort(got)
		want := slices.Clone(tc.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%q: got %q, want %q", tc.line, got, want)
		}
	}
}

func itoa(n int) string { return string(rune('0' + n)) }

// TestManRenders renders the page with groff, which must not warn, and
// checks the text a reader sees.
func TestManRenders(t *testing.T) {
	page := generate(t, Man)
	groff := lookTool(t, "groff")
	cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-rLL=200n")
	cmd.Stdin = strings.NewReader(page)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("groff: %v\n%s\n%s", err, stderr.String(), page)
	}
	text := stripOverstrike(stdout.String())
	for _, want := range []string{
		"prog - does things", "First paragraph with a \\backslash and -dashes.", ".starts with a dot", "'starts with a quote",
		"GLOBAL FLAGS", "--json", "-q", "COMMANDS", "backup", "prog backup PATH... [--tag T]", "back up: files [and] directories.",
		"--store LOCATION", "as s3://…/ say ü", `it's "quoted" and has [brackets]: yes.`, "--overwrite MODE", "odd-name_2", "EXIT STATUS", "bad usage: -x",
		"v1.2.3", "2026-12-07",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the rendered page lacks %q:\n%s", want, text)
		}
	}
}

// stripOverstrike removes the backspace sequences of bold and underline.
func stripOverstrike(s string) string {
	var out []rune
	for _, r := range s {
		if r == '\b' && len(out) > 0 {
			out = out[:len(out)-1]
			continue
		}
		out = append(out, r)
	}
	return strings.NewReplacer("\x1b[1m", "", "\x1b[0m", "", "\x1b[4m", "", "\x1b[22m", "", "\x1b[24m", "", "‐", "-", "−", "-").Replace(string(out))
}

// TestEveryCommandAndFlag: each output names every command and, for the
// completions, every flag of it.
func TestEveryCommandAndFlag(t *testing.T) {
	p := sample()
	for name, gen := range map[string]func(io.Writer, *Program) error{"bash": Bash, "zsh": Zsh, "fish": Fish, "man": Man} {
		out := generate(t, gen)
		for _, c := range p.Commands {
			cn := c.Name
			if name == "man" {
				cn = strings.ReplaceAll(cn, "-", `\-`)
			}
			if !strings.Contains(out, cn) {
				t.Errorf("%s: no command %s", name, c.Name)
			}
			for _, f := range p.allFlags(&c) {
				d := f.dashed()
				if name == "man" {
					d = strings.ReplaceAll(d, "-", `\-`)
				}
				if name == "fish" {
					d = f.Name
				}
				if !strings.Contains(out, d) {
					t.Errorf("%s: no flag %s of %s", name, d, c.Name)
				}
			}
		}
	}
}

// TestFishCompletes loads the script in a real fish and asks it to
// complete command lines (complete -C).
func TestFishCompletes(t *testing.T) {
	fish := lookTool(t, "fish")
	dir := t.TempDir()
	script := filepath.Join(dir, "prog.fish")
	if err := os.WriteFile(script, []byte(generate(t, Fish)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "file-a"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		line string
		want []string
	}{
		{"prog ", []string{"backup", "restore", "device", "odd-name_2"}},
		{"prog re", []string{"restore"}},
		{"prog backup --st", []string{"--store"}},
		{"prog backup file-", []string{"file-a"}},
		{"prog backup --store file-", []string{"file-a"}},
		{"prog restore --overwrite ", []string{"always", "if-changed", "never"}},
		{"prog restore latest file-", nil},
		{"prog device ", []string{"add", "list", "remove"}},
		{"prog device --ti", []string{"--timeout"}},
	} {
		cmd := exec.Command(fish, "--no-config", "-c", "source "+fishq(script)+"; complete -C "+fishq(tc.line))
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", tc.line, err, out)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if w, _, _ := strings.Cut(l, "\t"); w != "" {
				got = append(got, w)
			}
		}
		slices.Sort(got)
		want := slices.Clone(tc.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%q: got %q, want %q", tc.line, got, want)
		}
	}
}

// TestZshLoads loads the script after compinit in a real zsh: it must
// register its function for the program.
func TestZshLoads(t *testing.T) {
	zsh := lookTool(t, "zsh")
	dir := t.TempDir()
	script := filepath.Join(dir, "_prog")
	if err := os.WriteFile(script, []byte(generate(t, Zsh)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(zsh, "-f", "-c", "autoload -U compinit && compinit -u -D && source "+shq(script)+" && print -r -- ${_comps[prog]} && whence -w _prog_backup")
	cmd.Env = append(os.Environ(), "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "_prog\n_prog_backup: function\n" {
		t.Fatalf("%v: %q", err, out)
	}
}

// TestZshCompletes types command lines and a Tab into a real interactive
// zsh (through zsh/zpty) with the script loaded, and waits for the
// completion zsh draws.
func TestZshCompletes(t *testing.T) {
	zsh := lookTool(t, "zsh")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "_prog"), []byte(generate(t, Zsh)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"file-a", "file-b"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Each case: what is typed before the Tab, and a pattern zsh's screen
	// must come to show.
	cases := [][2]string{
		{"prog res", "prog restore "},
		{"prog backup --st", "prog backup --store "},
		{"prog backup file-", "file-a *file-b"},
		{"prog device rem", "prog device remove "},
		{"prog restore --overwrite if", "prog restore --overwrite if-changed "},
		{"prog restore --overwrite ", "always *if-changed *never"},
	}
	var script strings.Builder
	script.WriteString(`zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PS1='>'; autoload -U compinit; compinit -u -D; source ./_prog; setopt NO_BEEP"
expect() {
    local out= chunk i
    for ((i = 0; i < 100; i++)); do
        while zpty -r -t z chunk; do out+=$chunk; done
        out=${out//$'\e'\[[0-9;?]#[a-zA-Z]/}
        out=${out//$'\r'/}
        out=${out//$'\b'/}
        [[ $out == *${~1}* ]] && { print -r -- "ok"; return; }
        sleep 0.1
    done
    print -r -- "no: $out"
}
`)
	for _, c := range cases {
		fmt.Fprintf(&script, "zpty -w -n z $'\\x15'%s$'\\t'\nexpect %s\n", shq(c[0]), shq(c[1]))
	}
	cmd := exec.Command(zsh, "-f", "-c", script.String())
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir, "TERM=dumb")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(cases) {
		t.Fatalf("%d answers for %d cases:\n%s", len(lines), len(cases), out)
	}
	for i, l := range lines {
		if l != "ok" {
			t.Errorf("%q: want %q, screen %q", cases[i][0], cases[i][1], l)
		}
	}
}

// lookTool returns the path of a tool the test runs, skipping the test
// where it is missing, except in CI (CI=true), where `make shells`
// installs it and its absence is a failure.
func lookTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed (make shells installs it)", name)
	}
	t.Skipf("%s is not installed", name)
	return ""
}
