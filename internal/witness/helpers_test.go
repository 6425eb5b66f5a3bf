package witness

import (
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

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
	return signedTree(t, l.signer, l, size)
}

// proof returns the consistency proof from old to size.
func (l *testLog) proof(t testing.TB, old, size int64) []tlog.Hash {
	t.Helper()
	return proveTree(t, l, old, size)
}

// signedTree returns the checkpoint of the tree of hashes at a size,
// signed by signer.
func signedTree(t testing.TB, signer note.Signer, hashes tlog.HashReader, size int64) []byte {
	t.Helper()
	root, err := xtlog.TreeHash(size, hashes)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tlog.Sign(tlog.Checkpoint{Origin: signer.Name(), Size: uint64(size), Root: root}.Body(), signer)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// proveTree returns the consistency proof from old to size in the tree
// of hashes, empty from 0.
func proveTree(t testing.TB, hashes tlog.HashReader, old, size int64) []tlog.Hash {
	t.Helper()
	if old == 0 {
		return nil
	}
	p, err := xtlog.ProveTree(size, old, hashes)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// paddedLog is a log's real leaves followed by identical filler leaves,
// up to 2⁶² of them: each stored hash costs O(log size) to compute, so a
// log operator can have a consistent tree of absurd size cosigned for
// nothing.
type paddedLog struct {
	real   *testLog
	filler [63]tlog.Hash // filler[l]: a full subtree of filler at height l
}

// padded returns l followed by filler leaves.
func (l *testLog) padded() *paddedLog {
	p := &paddedLog{real: l}
	p.filler[0] = xtlog.RecordHash([]byte("filler"))
	for i := 1; i < len(p.filler); i++ {
		p.filler[i] = xtlog.NodeHash(p.filler[i-1], p.filler[i-1])
	}
	return p
}

// hash returns the hash of the n-th subtree at a level.
func (p *paddedLog) hash(level int, n int64) (tlog.Hash, error) {
	lo, hi := n<<level, (n+1)<<level
	switch {
	case hi <= p.real.n:
		h, err := p.real.ReadHashes([]int64{xtlog.StoredHashIndex(level, n)})
		if err != nil {
			return tlog.Hash{}, err
		}
		return h[0], nil
	case lo >= p.real.n:
		return p.filler[level], nil
	}
	left, err := p.hash(level-1, 2*n)
	if err != nil {
		return tlog.Hash{}, err
	}
	right, err := p.hash(level-1, 2*n+1)
	return xtlog.NodeHash(left, right), err
}

func (p *paddedLog) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		var err error
		if out[i], err = p.hash(xtlog.SplitStoredHashIndex(x)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// signed returns the padded log's signed checkpoint at a size.
func (p *paddedLog) signed(t testing.TB, size int64) []byte {
	t.Helper()
	return signedTree(t, p.real.signer, p, size)
}

// proof returns the consistency proof from old to size.
func (p *paddedLog) proof(t testing.TB, old, size int64) []tlog.Hash {
	t.Helper()
	return proveTree(t, p, old, size)
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
	now      atomic.Int64 // the cosigner's clock, POSIX seconds
}

// t0 is the time the fixture's witness cosigns at unless told otherwise.
var t0 = time.Unix(1700000000, 0)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir()}
	f.logS, f.logV = logKey(t, origin)
	skey, vkey, err := tlog.GenerateCosignerKey("witness.example/w1")
	if err != nil {
		t.Fatal(err)
	}
	f.now.Store(t0.Unix())
	if f.cosigner, err = tlog.NewCosigner(skey, func() time.Time { return time.Unix(f.now.Load(), 0) }); err != nil {
		t.Fatal(err)
	}
	if f.cosignV, err = tlog.NewCosignatureVerifier(vkey); err != nil {
		t.Fatal(err)
	}
	f.start(t)
	return f
}

// start (re)starts the witness from the state in its directory.
func (f *fixture) start(t *testing.T, opts ...Option) {
	t.Helper()
	if f.srv != nil {
		f.srv.Close()
	}
	st, err := OpenFileStore(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(st, f.cosigner, map[string]note.Verifier{origin: f.logV}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(w)
	t.Cleanup(f.srv.Close)
}

// newLog makes an empty log signed by the fixture's log key.
func (f *fixture) newLog() *testLog { return &testLog{signer: f.logS} }
