package pattern

import (
	"errors"
	"strings"
	"testing"
)

func mustParse(t *testing.T, s string) *Pattern {
	t.Helper()
	p, err := Parse(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		text string
		want error
	}{
		{"", ErrEmpty},
		{"!", ErrEmpty},
		{"/", ErrEmpty},
		{"[", ErrBracket},
		{"a[b", ErrBracket},
		{"[a/b]", ErrBracket},
		{`a\`, ErrBackslash},
		{`[a\`, ErrBackslash},
		{"[[:word:]]", ErrClassName},
		{"a//b", ErrComponent},
		{"a/b//", ErrComponent},
		{"./x", ErrDot},
		{"a/../b", ErrDot},
		{"..", ErrDot},
	} {
		_, err := Parse(c.text, Options{})
		if !errors.Is(err, c.want) {
			t.Errorf("Parse(%q) = %v, want %v", c.text, err, c.want)
			continue
		}
		if !strings.Contains(err.Error(), `pattern "`+strings.ReplaceAll(c.text, `\`, `\\`)+`"`) {
			t.Errorf("Parse(%q): %q does not quote the pattern", c.text, err)
		}
	}
}

// TestCommandLine checks that a pattern given alone keeps what an ignore
// file would take as a comment or trailing spaces.
func TestCommandLine(t *testing.T) {
	if !mustParse(t, "#x").Match("#x", false) {
		t.Error("#x is not a comment on the command line")
	}
	if !mustParse(t, "x ").Match("x ", false) || mustParse(t, "x ").Match("x", false) {
		t.Error("a trailing space on the command line is part of the pattern")
	}
}

func TestLiteral(t *testing.T) {
	for _, c := range []struct {
		text, path string
		dirOnly    bool
		ok         bool
	}{
		{"/data/a", "data/a", false, true},
		{"data/a/", "data/a", true, true},
		{"/data", "data", false, true},
		{"data", "", false, false}, // unanchored: any depth
		{"data/*.go", "", false, false},
		{`data/\*`, "", false, false},
		{"!data/a", "", false, false},
	} {
		p := mustParse(t, c.text)
		path, dirOnly, ok := p.Literal()
		if path != c.path || dirOnly != c.dirOnly || ok != c.ok {
			t.Errorf("%q.Literal() = %q, %v, %v; want %q, %v, %v", c.text, path, dirOnly, ok, c.path, c.dirOnly, c.ok)
		}
	}
	p, _ := Parse("/data/a", Options{FoldCase: true})
	if _, _, ok := p.Literal(); ok {
		t.Error("a case-folding pattern is not literal")
	}
}

func TestMayMatchBelow(t *testing.T) {
	for _, c := range []struct {
		text, dir string
		want      bool
	}{
		{"src/*.go", "", true},
		{"src/*.go", "src", true},
		{"src/*.go", "lib", false},
		{"src/*.go", "src/x", false},
		{"/a/b/c", "a/b", true},
		{"/a/b/c", "a/b/c", false}, // the pattern names the directory itself
		{"*.go", "any/depth", true},
		{"a/**/z", "a/b/c", true},
		{"a/**", "a", true},
		{"!*.go", "x", false},
		{"[ab]/x", "b", true},
		{"[ab]/x", "c", false},
	} {
		if got := mustParse(t, c.text).MayMatchBelow(c.dir); got != c.want {
			t.Errorf("%q.MayMatchBelow(%q) = %v, want %v", c.text, c.dir, got, c.want)
		}
	}
}

func TestVerdicts(t *testing.T) {
	l := NewList(mustParse(t, "*.log"), mustParse(t, "!keep.log"))
	for path, want := range map[string]Verdict{"a.log": Matched, "keep.log": Negated, "a.txt": NoMatch} {
		if got := l.Match(path, false); got != want {
			t.Errorf("Match(%q) = %v, want %v", path, got, want)
		}
	}
	var empty List
	if empty.Match("x", false) != NoMatch || empty.Excludes("x/y", false) || empty.MayMatchBelow("") {
		t.Error("the empty list matches")
	}
}

// TestMatchRooted checks that only a pattern beginning with '/' is tried
// against the other form of the path.
func TestMatchRooted(t *testing.T) {
	l := NewList(mustParse(t, "/home/u/proj/build"), mustParse(t, "home/u/x"), mustParse(t, "cache/"))
	for _, c := range []struct {
		rel, abs string
		isDir    bool
		want     Verdict
	}{
		{"build", "home/u/proj/build", true, Matched},
		{"x", "home/u/x", false, NoMatch}, // anchored at the base, not rooted
		{"home/u/x", "elsewhere/home/u/x", false, Matched},
		{"cache", "home/u/proj/cache", true, Matched},
		{"cache", "home/u/proj/cache", false, NoMatch},
	} {
		if got := l.MatchRooted(c.rel, c.abs, c.isDir); got != c.want {
			t.Errorf("MatchRooted(%q, %q) = %v, want %v", c.rel, c.abs, got, c.want)
		}
	}
}

func TestParseLines(t *testing.T) {
	text := "\uFEFF*.o\r\n# comment\r\n\r\n[bad\nok/  \n\\#lit\n"
	l, errs := ParseLines(text, Options{})
	if l.Len() != 3 {
		t.Fatalf("%d patterns, want 3", l.Len())
	}
	var le *LineError
	if len(errs) != 1 || !errors.As(errs[0], &le) || le.Line != 4 || !errors.Is(errs[0], ErrBracket) {
		t.Fatalf("errors %v, want one for line 4", errs)
	}
	if !strings.HasPrefix(errs[0].Error(), `line 4: pattern "[bad"`) {
		t.Errorf("error %q", errs[0])
	}
	for path, want := range map[string]bool{"x.o": true, "ok": true, "#lit": true, "x.o\r": false} {
		if got := l.Excludes(path, true); got != want {
			t.Errorf("%q excluded %v, want %v", path, got, want)
		}
	}
	if got := l.Patterns()[0].String(); got != "*.o" {
		t.Errorf("first pattern %q: byte order mark or CR kept", got)
	}
}

func TestTrimTrailingSpaces(t *testing.T) {
	for in, want := range map[string]string{
		"a  ":     "a",
		`a\ `:     `a\ `,
		`a\  `:    `a\ `,
		"a \t":    "a \t",
		`a\`:      `a\`,
		"   ":     "",
		`a \ b  `: `a \ b`,
	} {
		if got := trimTrailingSpaces(in); got != want {
			t.Errorf("trimTrailingSpaces(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLongPathsAreFast checks that matching stays polynomial on inputs
// that make naive backtracking exponential.
func TestLongPathsAreFast(t *testing.T) {
	p := mustParse(t, "**/a/**/a/**/a/**/a/**/b")
	path := strings.Repeat("a/", 200) + "c"
	if p.Match(path, false) {
		t.Fatal("matched")
	}
	g := mustParse(t, strings.Repeat("*a", 30)+"b")
	if g.Match(strings.Repeat("a", 500), false) {
		t.Fatal("matched")
	}
}
