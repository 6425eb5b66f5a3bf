package pattern

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// tableCase is one case of testdata/gitignore.txt.
type tableCase struct {
	name  string
	flags map[string]bool
	lines string // the ignore file
	paths []tablePath
	line  int
}

type tablePath struct {
	path     string // a directory if it ends with '/'
	excluded bool
}

func loadTable(t testing.TB) []tableCase {
	t.Helper()
	b, err := os.ReadFile("testdata/gitignore.txt")
	if err != nil {
		t.Fatal(err)
	}
	var cases []tableCase
	var cur *tableCase
	inPatterns := false
	for i, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "== "):
			cases = append(cases, parseHeader(line[3:], i+1))
			cur, inPatterns = &cases[len(cases)-1], true
		case cur == nil:
		case inPatterns && line == "--":
			inPatterns = false
		case inPatterns:
			cur.lines += line + "\n"
		case line == "" || line[0] == '#':
		default:
			cur.paths = append(cur.paths, parsePathLine(t, line, i+1))
		}
	}
	if len(cases) == 0 {
		t.Fatal("no cases")
	}
	return cases
}

func parseHeader(h string, line int) tableCase {
	c := tableCase{name: h, flags: map[string]bool{}, line: line}
	if i := strings.LastIndex(h, " ["); i >= 0 && strings.HasSuffix(h, "]") {
		for _, f := range strings.Fields(h[i+2 : len(h)-1]) {
			c.flags[f] = true
		}
		c.name = h[:i]
	}
	return c
}

func parsePathLine(t testing.TB, line string, n int) tablePath {
	want, path, ok := strings.Cut(line, " ")
	path = strings.TrimLeft(path, " ")
	if !ok || path == "" || want != "excluded" && want != "kept" {
		t.Fatalf("testdata/gitignore.txt:%d: want \"excluded PATH\" or \"kept PATH\", have %q", n, line)
	}
	return tablePath{path: path, excluded: want == "excluded"}
}

func (c tableCase) opts() Options { return Options{FoldCase: c.flags["fold"]} }

// TestTable checks every case of testdata/gitignore.txt.
func TestTable(t *testing.T) {
	for _, c := range loadTable(t) {
		l, errs := ParseLines(c.lines, c.opts())
		if c.flags["error"] {
			checkRefused(t, c, l, errs)
			continue
		}
		if len(errs) > 0 {
			t.Errorf("line %d %s: %v", c.line, c.name, errs)
			continue
		}
		for _, p := range c.paths {
			isDir := strings.HasSuffix(p.path, "/")
			got := l.Excludes(p.path, isDir)
			if c.flags["self"] {
				got = l.Match(p.path, isDir) == Matched
			}
			if got != p.excluded {
				t.Errorf("line %d %s: %q: excluded %v, want %v", c.line, c.name, p.path, got, p.excluded)
			}
		}
	}
}

// checkRefused checks that every pattern line of an "error" case is
// refused, with its line number.
func checkRefused(t *testing.T, c tableCase, l List, errs []error) {
	t.Helper()
	n := 0
	for _, line := range strings.Split(strings.TrimSuffix(c.lines, "\n"), "\n") {
		if line != "" && line[0] != '#' {
			n++
		}
	}
	if l.Len() != 0 || len(errs) != n {
		t.Errorf("line %d %s: %d patterns accepted, %d refused (%v); want all %d refused", c.line, c.name, l.Len(), len(errs), errs, n)
	}
}

// TestGitAgrees runs `git check-ignore` on the table, so that its
// expectations are git's and not only ours.
func TestGitAgrees(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	root := t.TempDir()
	gitRun(t, root, nil, "init", "-q", ".")
	for _, fold := range []bool{false, true} {
		var input []string
		var want []bool
		for i, c := range loadTable(t) {
			if c.flags["self"] || c.flags["nogit"] || c.flags["error"] || c.flags["fold"] != fold {
				continue
			}
			dir := filepath.Join(root, "case"+strconv.Itoa(i))
			makeCase(t, dir, c)
			for _, p := range c.paths {
				input = append(input, "case"+strconv.Itoa(i)+"/"+strings.TrimSuffix(p.path, "/"))
				want = append(want, p.excluded)
			}
		}
		if len(input) < 8 {
			t.Fatalf("fold %v: only %d paths to check", fold, len(input))
		}
		got := gitCheckIgnore(t, root, fold, input)
		for i, in := range input {
			if got[i] != want[i] {
				t.Errorf("fold %v: git says %q excluded %v, the table %v", fold, in, got[i], want[i])
			}
		}
	}
}

// makeCase writes a case's ignore file and creates its paths.
func makeCase(t *testing.T, dir string, c tableCase) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".gitignore"), []byte(c.lines), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range c.paths {
		full := filepath.Join(dir, p.path)
		if strings.HasSuffix(p.path, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// gitCheckIgnore returns, for each path, whether git excludes it.
func gitCheckIgnore(t *testing.T, root string, fold bool, paths []string) []bool {
	t.Helper()
	in := strings.Join(paths, "\x00") + "\x00"
	args := []string{"-c", "core.ignorecase=false", "check-ignore", "--no-index", "-v", "-n", "-z", "--stdin"}
	if fold {
		args[1] = "core.ignorecase=true"
	}
	out := gitRun(t, root, []byte(in), args...)
	fields := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(fields) != 4*len(paths) {
		t.Fatalf("git check-ignore printed %d fields for %d paths", len(fields), len(paths))
	}
	got := make([]bool, len(paths))
	for i := range paths {
		pat, path := fields[4*i+2], fields[4*i+3]
		if path != paths[i] {
			t.Fatalf("git check-ignore answered %q for %q", path, paths[i])
		}
		got[i] = pat != "" && pat[0] != '!'
	}
	return got
}

func gitRun(t *testing.T, dir string, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.Output()
	// check-ignore exits 1 when no path is ignored.
	if err != nil && (cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1) {
		t.Fatalf("git %v: %v", args, err)
	}
	return out
}
