//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// scriptCmds returns the commands the scripts have besides testscript's.
func scriptCmds() map[string]func(*testscript.TestScript, bool, []string) {
	return map[string]func(*testscript.TestScript, bool, []string){
		"json":        func(ts *testscript.TestScript, neg bool, args []string) { cmdJSON(ts, neg, args, false) },
		"jsonl":       func(ts *testscript.TestScript, neg bool, args []string) { cmdJSON(ts, neg, args, true) },
		"exits":       cmdExits,
		"fasthome":    cmdFastHome,
		"randfile":    cmdRandFile,
		"cmptree":     cmdCmpTree,
		"largestpack": cmdLargestPack,
		"flipbit":     cmdFlipBit,
		"mkfifo":      cmdMkfifo,
		"sparsefile":  cmdSparseFile,
		"hardlink":    cmdHardlink,
		"samefile":    cmdSameFile,
		"toupper":     cmdToUpper,
		"setquoted":   cmdSetQuoted,
		"tarlist":     cmdTarList,
	}
}

// cmdJSON implements
//
//	json FILE                   FILE holds exactly one JSON value
//	json FILE PATH OP VALUE     the value at PATH compares with VALUE
//	json FILE PATH -> VAR       store the value at PATH in $VAR
//	json FILE PATH absent       there is no value at PATH
//
// jsonl does the same on a file of JSON values, one per line, taken as an
// array. PATH is dot-separated object keys and array indexes; a final "len"
// is the length of an array or object (or 0 for null) unless an object has
// that member; "." is the whole value. OP is one of == != < > (numbers
// compare as numbers); a string value compares without its quotes. With
// "!", the comparison must fail.
func cmdJSON(ts *testscript.TestScript, neg bool, args []string, lines bool) {
	if len(args) != 1 && len(args) != 3 && len(args) != 4 || len(args) == 3 && args[2] != "absent" {
		ts.Fatalf("usage: json FILE [PATH OP VALUE | PATH -> VAR | PATH absent]")
	}
	root, err := decodeJSON(ts.ReadFile(args[0]), lines)
	if len(args) == 1 {
		switch {
		case neg && err == nil:
			ts.Fatalf("%s is JSON", args[0])
		case !neg && err != nil:
			ts.Fatalf("%s: %v", args[0], err)
		}
		return
	}
	if err != nil {
		ts.Fatalf("%s: %v", args[0], err)
	}
	v, err := jsonPath(root, args[1])
	if len(args) == 3 {
		if (err == nil) != neg {
			ts.Fatalf("%s: %s is %s", args[0], args[1], map[bool]string{true: "absent", false: "present"}[neg])
		}
		return
	}
	if err != nil {
		ts.Fatalf("%s: %v", args[0], err)
	}
	got := jsonString(v)
	if args[2] == "->" {
		ts.Setenv(args[3], got)
		return
	}
	ok, err := compare(got, args[2], args[3])
	if err != nil {
		ts.Fatalf("%v", err)
	}
	if ok == neg {
		ts.Fatalf("%s: %s is %s; want %s%s %s", args[0], args[1], got, map[bool]string{true: "not "}[neg], args[2], args[3])
	}
}

func decodeJSON(text string, lines bool) (any, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var all []any
	for {
		var v any
		err := dec.Decode(&v)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		all = append(all, v)
	}
	if lines {
		for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
			if l != "" && !json.Valid([]byte(l)) {
				return nil, fmt.Errorf("line %q is not one JSON value", l)
			}
		}
		return all, nil
	}
	if len(all) != 1 {
		return nil, fmt.Errorf("holds %d JSON values, want 1", len(all))
	}
	return all[0], nil
}

func jsonPath(v any, path string) (any, error) {
	if path == "." {
		return v, nil
	}
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			m, ok := x[k]
			if !ok && k == "len" {
				return json.Number(strconv.Itoa(len(x))), nil
			}
			if v = m; !ok {
				return nil, fmt.Errorf("no member %q in %s", k, path)
			}
		case []any:
			if k == "len" {
				return json.Number(strconv.Itoa(len(x))), nil
			}
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(x) {
				return nil, fmt.Errorf("no element %q in %s (length %d)", k, path, len(x))
			}
			v = x[i]
		case nil:
			if k == "len" { // an absent list, encoded as null
				return json.Number("0"), nil
			}
			return nil, fmt.Errorf("null before %q in %s", k, path)
		default:
			return nil, fmt.Errorf("%q in %s indexes a scalar", k, path)
		}
	}
	return v, nil
}

func jsonString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func compare(got, op, want string) (bool, error) {
	g, gerr := strconv.ParseFloat(got, 64)
	w, werr := strconv.ParseFloat(want, 64)
	numeric := gerr == nil && werr == nil
	switch op {
	case "==":
		return got == want || numeric && g == w, nil
	case "!=":
		return got != want && !(numeric && g == w), nil
	case "<", ">":
		if !numeric {
			return false, fmt.Errorf("%s %s %s: not numbers", got, op, want)
		}
		return op == "<" && g < w || op == ">" && g > w, nil
	}
	return false, fmt.Errorf("unknown operator %q", op)
}

// cmdRandFile implements "randfile FILE SIZE SEED": FILE gets SIZE bytes
// (suffixes K and M allowed) of incompressible data determined by SEED.
func cmdRandFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: randfile FILE SIZE SEED")
	}
	size, err := parseSize(args[1])
	if err != nil {
		ts.Fatalf("%v", err)
	}
	seed, err := strconv.ParseUint(args[2], 10, 64)
	if err != nil {
		ts.Fatalf("seed: %v", err)
	}
	name := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(filepath.Dir(name), 0o755))
	ts.Check(writeRandom(name, size, seed))
}

// cmdFastHome implements "fasthome": it creates this device's keys in
// $COFFER_HOME under $COFFER_PASSPHRASE with makeFastHome.
func cmdFastHome(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: fasthome")
	}
	ts.Check(makeFastHome(ts.Getenv("COFFER_HOME"), ts.Getenv("COFFER_PASSPHRASE")))
}

// cmdExits implements "exits CODE PROGRAM [ARGS...]": it runs PROGRAM as
// exec does and requires that it exit with CODE.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// cmdCmpTree implements "cmptree DIR1 DIR2": the two trees hold the same
// names, types, permissions, contents, link targets and modification times.
func cmdCmpTree(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: cmptree DIR1 DIR2")
	}
	err := compareTrees(ts.MkAbs(args[0]), ts.MkAbs(args[1]))
	if neg && err == nil {
		ts.Fatalf("%s and %s are the same", args[0], args[1])
	}
	if !neg {
		ts.Check(err)
	}
}

// cmdLargestPack implements "largestpack STORE VAR": $VAR is the path of
// the largest pack in the local store STORE.
func cmdLargestPack(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: largestpack STORE VAR")
	}
	packs, err := filepath.Glob(filepath.Join(ts.MkAbs(args[0]), "packs", "*", "*"))
	ts.Check(err)
	var largest string
	var size int64 = -1
	for _, p := range packs {
		fi, err := os.Stat(p)
		ts.Check(err)
		if fi.Size() > size {
			largest, size = p, fi.Size()
		}
	}
	if largest == "" {
		ts.Fatalf("no packs in %s", args[0])
	}
	ts.Setenv(args[1], largest)
}

// cmdFlipBit implements "flipbit FILE": one bit in the middle of FILE
// flips, as by decay or tampering.
func cmdFlipBit(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: flipbit FILE")
	}
	name := ts.MkAbs(args[0])
	fi, err := os.Stat(name)
	ts.Check(err)
	ts.Check(os.Chmod(name, fi.Mode()|0o200)) // stores keep objects read-only
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	ts.Check(err)
	defer f.Close()
	b := make([]byte, 1)
	_, err = f.ReadAt(b, fi.Size()/2)
	ts.Check(err)
	b[0] ^= 0x10
	_, err = f.WriteAt(b, fi.Size()/2)
	ts.Check(err)
}

// cmdMkfifo implements "mkfifo PATH".
func cmdMkfifo(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: mkfifo PATH")
	}
	ts.Check(syscall.Mkfifo(ts.MkAbs(args[0]), 0o640))
}

// cmdSparseFile implements "sparsefile FILE SIZE": FILE, created if
// missing as a hole with one byte in the middle, must be SIZE bytes long
// and occupy at most 64 KiB on disk.
func cmdSparseFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: sparsefile FILE SIZE")
	}
	size, err := parseSize(args[1])
	ts.Check(err)
	name := ts.MkAbs(args[0])
	if _, err := os.Lstat(name); errors.Is(err, os.ErrNotExist) {
		f, err := os.Create(name)
		ts.Check(err)
		ts.Check(f.Truncate(size))
		_, err = f.WriteAt([]byte{'x'}, size/2)
		ts.Check(errors.Join(err, f.Close()))
	}
	fi, err := os.Stat(name)
	ts.Check(err)
	used := fi.Sys().(*syscall.Stat_t).Blocks * 512
	if fi.Size() != size || used > 64<<10 {
		ts.Fatalf("%s: %d bytes, %d on disk", args[0], fi.Size(), used)
	}
}

// cmdSameFile implements "samefile A B": A and B are hard links to one
// file.
func cmdSameFile(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: [!] samefile A B")
	}
	a, err := os.Lstat(ts.MkAbs(args[0]))
	ts.Check(err)
	b, err := os.Lstat(ts.MkAbs(args[1]))
	ts.Check(err)
	if os.SameFile(a, b) == neg {
		ts.Fatalf("%s and %s: same file is %v", args[0], args[1], !neg)
	}
}

// cmdHardlink implements "hardlink OLD NEW".
func cmdHardlink(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: hardlink OLD NEW")
	}
	ts.Check(os.Link(ts.MkAbs(args[0]), ts.MkAbs(args[1])))
}

// cmdToUpper implements "toupper VAR VALUE": $VAR is VALUE in upper case.
func cmdToUpper(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: toupper VAR VALUE")
	}
	ts.Setenv(args[0], strings.ToUpper(args[1]))
}

// cmdSetQuoted implements "setquoted VAR TEXT": $VAR is TEXT read as the
// inside of a Go string literal, so that a script can name files with
// control characters or invalid UTF-8 (as in setquoted evil 'a\x1b[31m\nb').
func cmdSetQuoted(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: setquoted VAR TEXT")
	}
	s, err := strconv.Unquote(`"` + args[1] + `"`)
	ts.Check(err)
	ts.Setenv(args[0], s)
}

// TestJSONHelpers checks the json script command's decoding, paths and
// comparisons, on which many script lines rely.
func TestJSONHelpers(t *testing.T) {
	doc := `{"a":[{"b":"x y"},{"b":2.5}],"n":null,"len":7,"o":{"k":1}}`
	for _, tc := range []struct {
		path, op, want string
		ok             bool
	}{
		{"a.0.b", "==", "x y", true},
		{"a.0.b", "!=", "x", true},
		{"a.1.b", "==", "2.50", true},
		{"a.1.b", ">", "2", true},
		{"a.1.b", "<", "2", false},
		{"a.len", "==", "2", true},
		{"n.len", "==", "0", true},
		{"len", "==", "7", true},
		{"o.len", "==", "1", true},
		{"o", "==", `{"k":1}`, true},
		{"a.2", "", "", false},
		{"a.x", "", "", false},
		{"o.k.z", "", "", false},
		{"missing", "", "", false},
	} {
		root, err := decodeJSON(doc, false)
		if err != nil {
			t.Fatal(err)
		}
		v, err := jsonPath(root, tc.path)
		if tc.op == "" {
			if err == nil {
				t.Errorf("%s: found %v, want absent", tc.path, v)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.path, err)
			continue
		}
		if ok, err := compare(jsonString(v), tc.op, tc.want); ok != tc.ok || err != nil {
			t.Errorf("%s %s %s: %v, %v; want %v", tc.path, tc.op, tc.want, ok, err, tc.ok)
		}
	}
	for _, tc := range []struct {
		text  string
		lines bool
		n     int // values, or -1 for an error
	}{
		{"{}\n", false, 1},
		{"{}\n{}\n", false, -1},
		{"{}\n{}\n", true, 2},
		{"{} {}\n", true, -1},
		{"", true, 0},
		{"not json", false, -1},
	} {
		v, err := decodeJSON(tc.text, tc.lines)
		n := -1
		if err == nil {
			n = 1
			if tc.lines {
				n = len(v.([]any))
			}
		}
		if n != tc.n {
			t.Errorf("decodeJSON(%q, %v) = %d values (%v), want %d", tc.text, tc.lines, n, err, tc.n)
		}
	}
}
