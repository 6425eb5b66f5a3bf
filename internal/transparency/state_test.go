package transparency

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/coffer-backup/coffer/internal/tlog"
)

var update = flag.Bool("update", false, "rewrite testdata/state-v1.json")

// goldenState is the state a check of the vector log of
// docs/transparency.md §T.1–T.3 leaves (§T.5.4).
const goldenState = "testdata/state-v1.json"

// vectorVKey is the log key of the vector log (internal/tlog/testdata).
const vectorVKey = "log.coffer.example/v1+26901afa+AVUgcfKgbwR5c96nGPjMMGvWY/V22Wlty9Tw+PS2/dEm"

// vectorWatch watches account A of the vector log, whose chain here has a
// third entry the log does not hold yet.
func vectorWatch(t *testing.T) Watch {
	t.Helper()
	w, err := NewWatch("00112233445566778899aabbccddeeff", [][]byte{[]byte("genesis of A"), []byte("entry 1 of A"), []byte("entry 2 of A")}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	return at(w, time.Unix(1700000000, 0))
}

// TestVectorLog checks account A in the vector log of internal/tlog,
// served as files over HTTP, and compares the state with the golden file.
func TestVectorLog(t *testing.T) {
	srv := httptest.NewServer(http.FileServer(http.Dir("../tlog/testdata")))
	defer srv.Close()
	f, err := NewFetcher(srv.Client(), srv.URL+"/#sha256=ignored")
	if err != nil {
		t.Fatal(err)
	}
	logV, err := tlog.NewLogVerifier(vectorVKey)
	if err != nil {
		t.Fatal(err)
	}
	witV, err := tlog.NewCosignatureVerifier("witness.example/w1+63e96699+BFmSO0GrMuZbKLHxCVdZnYqgVCcWJZp1Cvgm9Zxdvijq")
	if err != nil {
		t.Fatal(err)
	}
	policy := tlog.Policy{Log: logV, Witnesses: []note.Verifier{witV}, Threshold: 1}
	st, rep, err := Check(context.Background(), f, policy, nil, vectorWatch(t))
	if err != nil || rep.Logged != 2 || len(rep.Pending) != 1 || !rep.NameLogged || rep.Read != 5 {
		t.Fatalf("%+v, %v", rep, err)
	}
	got, err := st.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(goldenState, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenState)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("state differs from %s (%v):\n%s", goldenState, err, got)
	}
	key, err := f.VerifierKey(context.Background())
	if err == nil || key != "" {
		t.Fatalf("the vector log has no vkey file, yet got %v", key)
	}
}

// TestParseState: the golden file parses and re-encodes to itself; each
// damage to it is refused.
func TestParseState(t *testing.T) {
	golden, err := os.ReadFile(goldenState)
	if err != nil {
		t.Fatal(err)
	}
	st, err := ParseState(golden, origin)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := st.Marshal(); !bytes.Equal(b, golden) {
		t.Fatalf("re-encodes differently:\n%s", b)
	}
	tests := []struct{ name, old, new string }{
		{"version", `"version": 1`, `"version": 2`},
		{"origin", `"origin": "log.coffer.example/v1"`, `"origin": "log.other.example/v1"`},
		{"unknown field", `"version": 1,`, `"version": 1, "extra": 0,`},
		{"size not the checkpoint's", `"size": 5`, `"size": 4`},
		{"root not the checkpoint's", `"root": "3`, `"root": "4`},
		{"checkpoint", `\n5\n`, `\n05\n`},
		{"scanned beyond size", `"scanned": 5`, `"scanned": 6`},
		{"entries out of order", `"index": 2`, `"index": 1`},
		{"entry not scanned", `"index": 2`, `"index": 5`},
		{"pending among logged", `"2": 1700000000`, `"1": 1700000000`},
		{"name index beyond", `"name_index": 0`, `"name_index": 5`},
		{"name index without name", `"name_hash": "IbMrbf9OKjaS5TDL7cT3fieHaLgwry8c9acKl/PVZS8=",`, ``},
		{"account ID", `"00112233445566778899aabbccddeeff"`, `"00112233445566778899AABBCCDDEEFF"`},
		{"null account", `"00112233445566778899aabbccddeeff": {`, `"00112233445566778899aabbccddeeff": null, "x": {`},
	}
	for _, tc := range tests {
		b := strings.Replace(string(golden), tc.old, tc.new, 1)
		if b == string(golden) {
			t.Fatalf("%s: %q is not in the golden file", tc.name, tc.old)
		}
		if _, err := ParseState([]byte(b), origin); !errors.Is(err, tlog.ErrMalformed) {
			t.Errorf("%s: got %v", tc.name, err)
		}
	}
	for _, tail := range []string{"{}", strings.Repeat(" ", MaxStateFile)} {
		if _, err := ParseState(append(bytes.Clone(golden), tail...), origin); !errors.Is(err, tlog.ErrMalformed) {
			t.Errorf("%d bytes appended: %v", len(tail), err)
		}
	}
}

// TestLoadState: a missing file is the first use; a damaged one is an
// error naming the file; Save replaces the file and leaves no temporary.
func TestLoadState(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	if st, err := LoadState(dir, vectorVKey); st != nil || err != nil {
		t.Fatalf("no file: %v, %v", st, err)
	}
	golden := saveGolden(t, dir)
	names, err := os.ReadDir(dir)
	if err != nil || len(names) != 1 || filepath.Join(dir, names[0].Name()) != StatePath(dir, vectorVKey) {
		t.Fatalf("directory holds %v, %v", names, err)
	}
	if info, err := os.Stat(dir); err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("directory mode: %v, %v", info.Mode(), err)
	}
	loaded, err := LoadState(dir, vectorVKey)
	if err != nil || !bytes.Equal(marshalOrNil(t, loaded), golden) {
		t.Fatalf("loaded: %v", err)
	}
	if err := os.WriteFile(StatePath(dir, vectorVKey), golden[:100], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadState(dir, vectorVKey); !errors.Is(err, tlog.ErrMalformed) || !strings.Contains(err.Error(), StatePath(dir, vectorVKey)) {
		t.Fatalf("damaged: %v", err)
	}
}

// saveGolden saves the golden state twice (the second replaces the first)
// under the vector log's key in dir and returns its bytes.
func saveGolden(t *testing.T, dir string) []byte {
	t.Helper()
	golden, err := os.ReadFile(goldenState)
	if err != nil {
		t.Fatal(err)
	}
	st, err := ParseState(golden, origin)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := st.Save(dir, vectorVKey); err != nil {
			t.Fatal(err)
		}
	}
	return golden
}

// TestStatePerKey: a state is kept per log key, not per origin, so a log
// of the same origin under another key (trusted on first use, perhaps
// with no witness) neither reads nor overwrites what this device verified
// of the vector log.
func TestStatePerKey(t *testing.T) {
	dir := t.TempDir()
	golden := saveGolden(t, dir)
	_, sameOrigin, err := tlog.GenerateLogKey(origin)
	if err != nil {
		t.Fatal(err)
	}
	_, otherOrigin, err := tlog.GenerateLogKey("log.other.example/v1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, vkey string
		want       []byte // the state found, nil for none
		err        error
	}{
		{"its key", vectorVKey, golden, nil},
		{"its key with white space around", " " + vectorVKey + "\n", golden, nil},
		{"another key of the same origin", sameOrigin, nil, nil},
		{"a key of another origin", otherOrigin, nil, nil},
		{"an origin, not a key", origin, nil, tlog.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := LoadState(dir, tc.vkey)
			if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) || !bytes.Equal(marshalOrNil(t, st), tc.want) {
				t.Fatalf("got %v, %v", st != nil, err)
			}
		})
	}
	st, err := ParseState(golden, origin)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Save(dir, otherOrigin); err == nil {
		t.Fatal("saved a state of one origin under the key of another")
	}
	st.Accounts = nil
	if err := st.Save(dir, sameOrigin); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadState(dir, vectorVKey); err != nil || !bytes.Equal(marshalOrNil(t, got), golden) {
		t.Fatalf("another key's state replaced this one's: %v", err)
	}
}

// FuzzParseState: whatever parses re-encodes to a file that parses to
// the same encoding.
func FuzzParseState(f *testing.F) {
	golden, err := os.ReadFile(goldenState)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	f.Add(bytes.Replace(golden, []byte(`"pending": {`), []byte(`"x": {`), 1))
	f.Add([]byte(`{"version": 1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseState(b, origin)
		if err != nil {
			return
		}
		enc, err := st.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseState(enc, origin)
		if err != nil {
			t.Fatalf("re-encoding does not parse: %v", err)
		}
		if enc2, _ := again.Marshal(); !bytes.Equal(enc, enc2) {
			t.Fatal("re-encoding is not stable")
		}
	})
}
