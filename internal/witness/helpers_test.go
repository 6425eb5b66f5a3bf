package witness

import (
	"fmt"
	"net/http/httptest"
	"testing"

	"golang.org/x/mod/sumdb/note"
	xtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/coffer-backup/coffer/internal/tlog"
)

const origin = "log.coffer.example/v1"

// testLog is a log kept as the server keeps it: x/mod stored hashes,
// signed by its note key.
type testLog struct {
	hashes []tlog.Hash
	n      int64
	signer note.Signer
}

func (l *testLog) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(l.hashes)) {
			return nil, fmt.Errorf("no stored hash %d", x)
		}
		out[i] = l.hashes[x]
	}
	return out, nil
}

// grow appends leaves "<prefix> <i>" until the log has n.
func (l *testLog) grow(t testing.TB, prefix string, n int64) *testLog {
	t.Helper()
	for ; l.n < n; l.n++ {
		hs, err := xtlog.StoredHashes(l.n, fmt.Appendf(nil, "%s %d", prefix, l.n), l)
		if err != nil {
			t.Fatal(err)
		}
		l.hashes = append(l.hashes, hs...)
	}
	return l
}

// signed returns the log's signed checkpoint at a size.
func (l *testLog) signed(t testing.TB, size int64) []byte {
	t.Helper()
	root, err := xtlog.TreeHash(size, l)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tlog.Sign(tlog.Checkpoint{Origin: l.signer.Name(), Size: uint64(size), Root: root}.Body(), l.signer)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// proof returns the consistency proof from old to size.
func (l *testLog) proof(t testing.TB, old, size int64) []tlog.Hash {
	t.Helper()
	if old == 0 {
		return nil
	}
	p, err := xtlog.ProveTree(size, old, l)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// logKey makes a log key pair for an origin.
func logKey(t testing.TB, name string) (note.Signer, note.Verifier) {
	t.Helper()
	skey, vkey, err := tlog.GenerateLogKey(name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := tlog.NewLogSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := tlog.NewLogVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

// fixture is a witness serving over real HTTP with its state in a
// directory, and the key of the one log it knows.
type fixture struct {
	dir      string
	logS     note.Signer
	logV     note.Verifier
	cosigner note.Signer
	cosignV  note.Verifier
	srv      *httptest.Server
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir()}
	f.logS, f.logV = logKey(t, origin)
	skey, vkey, err := tlog.GenerateCosignerKey("witness.example/w1")
	if err != nil {
		t.Fatal(err)
	}
	if f.cosigner, err = tlog.NewCosigner(skey, nil); err != nil {
		t.Fatal(err)
	}
	if f.cosignV, err = tlog.NewCosignatureVerifier(vkey); err != nil {
		t.Fatal(err)
	}
	f.start(t)
	return f
}

// start (re)starts the witness from the state in its directory.
func (f *fixture) start(t *testing.T) {
	t.Helper()
	if f.srv != nil {
		f.srv.Close()
	}
	st, err := OpenFileStore(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(st, f.cosigner, map[string]note.Verifier{origin: f.logV})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(w)
	t.Cleanup(f.srv.Close)
}

// newLog makes an empty log signed by the fixture's log key.
func (f *fixture) newLog() *testLog { return &testLog{signer: f.logS} }
