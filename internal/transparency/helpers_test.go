package transparency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	xtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/coffer-backup/coffer/internal/tlog"
	"github.com/coffer-backup/coffer/internal/witness"
)

const (
	origin      = "log.coffer.example/v1"
	witnessName = "witness.example/w1"
	aliceName   = "alice"
)

// Accounts of the test log: alice is watched, bob is someone else.
var (
	alice = tlog.AccountID{0xa1, 0x1c, 0xe0}
	bob   = tlog.AccountID{0xb0, 0xb0}
)

// entry is a stand-in for entry seq of an account's device chain.
func entry(id tlog.AccountID, seq int) []byte { return fmt.Appendf(nil, "%s entry %d", id, seq) }

// chainLeaf logs entry seq of id (or other bytes, for a fork).
func chainLeaf(id tlog.AccountID, seq int, e []byte) tlog.Leaf {
	return &tlog.ChainLeaf{Account: id, Seq: uint64(seq), EntryHash: sha256.Sum256(e)}
}

// nameLeaf maps name to id and the genesis entry gen.
func nameLeaf(name string, id tlog.AccountID, gen []byte) tlog.Leaf {
	return &tlog.NameLeaf{NameHash: tlog.NameHash(name), Account: id, GenesisHash: sha256.Sum256(gen)}
}

// watchAlice watches alice with a chain of n entries, checking at t0.
func watchAlice(t testing.TB, n int) Watch {
	t.Helper()
	entries := make([][]byte, n)
	for i := range entries {
		entries[i] = entry(alice, i)
	}
	w, err := NewWatch(alice.String(), entries, aliceName)
	if err != nil {
		t.Fatal(err)
	}
	return at(w, t0)
}

// testLog is a log kept as the server keeps it: its leaves and x/mod
// stored hashes.
type testLog struct {
	leaves [][]byte
	hashes []tlog.Hash
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

// add appends leaves, given as tlog.Leaf or raw []byte.
func (l *testLog) add(t testing.TB, leaves ...any) *testLog {
	t.Helper()
	for _, x := range leaves {
		b, ok := x.([]byte)
		if !ok {
			b = x.(tlog.Leaf).Marshal()
		}
		hs, err := xtlog.StoredHashes(int64(len(l.leaves)), b, l)
		if err != nil {
			t.Fatal(err)
		}
		l.hashes = append(l.hashes, hs...)
		l.leaves = append(l.leaves, b)
	}
	return l
}

// checkpoint returns the log's current checkpoint.
func (l *testLog) checkpoint(t testing.TB) tlog.Checkpoint {
	t.Helper()
	root, err := xtlog.TreeHash(int64(len(l.leaves)), l)
	if err != nil {
		t.Fatal(err)
	}
	return tlog.Checkpoint{Origin: origin, Size: uint64(len(l.leaves)), Root: root}
}

// tile answers a C2SP tile or bundle path for the tree of the given size.
func (l *testLog) tile(path string, size uint64) ([]byte, error) {
	t, err := tlog.ParseTilePath(path)
	if err != nil {
		return nil, err
	}
	if t.L >= 0 {
		return tlog.ReadTile(t, size, l)
	}
	if err := tlog.CheckTile(t, size); err != nil {
		return nil, err
	}
	start := t.N * tlog.TileWidth
	return tlog.MarshalBundle(l.leaves[start : start+int64(t.W)])
}

// published is what the log server serves: a log at a size and its
// signed, cosigned checkpoint.
type published struct {
	log        *testLog
	size       uint64
	checkpoint []byte
}

// logServer serves a published log per C2SP tlog-tiles under /log/,
// flipping the last byte of the response at the path corrupt.
type logServer struct {
	mu      sync.Mutex
	pub     published
	corrupt string
	vkey    string
}

func (s *logServer) set(p published, corrupt string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pub, s.corrupt = p, corrupt
}

func (s *logServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	p, corrupt, vkey := s.pub, s.corrupt, s.vkey
	s.mu.Unlock()
	path, ok := strings.CutPrefix(r.URL.Path, "/log/")
	var b []byte
	var err error
	switch {
	case !ok || r.Method != http.MethodGet:
		err = fmt.Errorf("not a log path")
	case path == "checkpoint":
		b = p.checkpoint
	case path == "vkey":
		b = []byte(vkey + "\n")
	default:
		b, err = p.log.tile(path, p.size)
	}
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if path == corrupt {
		b = bytes.Clone(b)
		b[len(b)-1] ^= 1
	}
	_, _ = w.Write(b)
}

// witnessServer is a real witness over HTTP and the size it last cosigned.
type witnessServer struct {
	srv  *httptest.Server
	size uint64
}

// fixture is a log server, its key, the witness that cosigns for it, and
// the client's policy and state directory.
type fixture struct {
	logS     note.Signer
	vkey     string // the log's verifier key
	cosigner note.Signer
	now      atomic.Int64 // the cosigner's clock, POSIX seconds: t0 unless moved
	witness  *witnessServer
	server   *logServer
	fetcher  *Fetcher
	policy   tlog.Policy
	dir      string
	url      string // the log server's base URL
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	skey, vkey, err := tlog.GenerateLogKey(origin)
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{dir: t.TempDir(), vkey: vkey, server: &logServer{vkey: vkey}}
	fx.now.Store(t0.Unix())
	if fx.logS, err = tlog.NewLogSigner(skey); err != nil {
		t.Fatal(err)
	}
	if fx.policy.Log, err = tlog.NewLogVerifier(vkey); err != nil {
		t.Fatal(err)
	}
	cskey, cvkey, err := tlog.GenerateCosignerKey(witnessName)
	if err != nil {
		t.Fatal(err)
	}
	if fx.cosigner, err = tlog.NewCosigner(cskey, func() time.Time { return time.Unix(fx.now.Load(), 0) }); err != nil {
		t.Fatal(err)
	}
	cv, err := tlog.NewCosignatureVerifier(cvkey)
	if err != nil {
		t.Fatal(err)
	}
	fx.policy.Witnesses, fx.policy.Threshold = []note.Verifier{cv}, 1
	fx.witness = fx.newWitness(t)
	srv := httptest.NewServer(fx.server)
	t.Cleanup(srv.Close)
	fx.url = srv.URL
	if fx.fetcher, err = NewFetcher(srv.Client(), srv.URL); err != nil {
		t.Fatal(err)
	}
	return fx
}

// newWitness starts a witness with the fixture's cosigning key and a
// state of its own: a second one, cosigning a fork, plays a witness that
// was fooled or lies.
func (fx *fixture) newWitness(t *testing.T) *witnessServer {
	t.Helper()
	st, err := witness.OpenFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w, err := witness.New(st, fx.cosigner, map[string]note.Verifier{origin: fx.policy.Log})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	return &witnessServer{srv: srv}
}

// sign returns l's current checkpoint signed by the log key.
func (fx *fixture) sign(t testing.TB, l *testLog) []byte {
	t.Helper()
	signed, err := tlog.Sign(l.checkpoint(t).Body(), fx.logS)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// publish signs l's current checkpoint, has ws cosign it over HTTP and
// serves it.
func (fx *fixture) publish(t testing.TB, l *testLog, ws *witnessServer) published {
	t.Helper()
	signed := fx.sign(t, l)
	size := uint64(len(l.leaves))
	var proof []tlog.Hash
	if ws.size > 0 && ws.size < size {
		var err error
		if proof, err = xtlog.ProveTree(int64(size), int64(ws.size), l); err != nil {
			t.Fatal(err)
		}
	}
	lines, _, err := witness.Submit(context.Background(), ws.srv.Client(), ws.srv.URL, ws.size, proof, signed)
	if err != nil {
		t.Fatal(err)
	}
	ws.size = size
	p := published{log: l, size: size, checkpoint: append(signed, lines...)}
	fx.server.set(p, "")
	return p
}

// cosignAt has the witness ws cosign l's current checkpoint again at a
// time and serves it: what the server's hourly refresh does.
func (fx *fixture) cosignAt(t testing.TB, l *testLog, ws *witnessServer, when time.Time) published {
	t.Helper()
	fx.now.Store(when.Unix())
	return fx.publish(t, l, ws)
}

// serveCosigned serves a checkpoint of l's origin with a size l need not
// have, signed by the log and cosigned with the witness's key at the
// fixture's clock, as a witness without a growth bound would.
func (fx *fixture) serveCosigned(t testing.TB, l *testLog, size uint64) {
	t.Helper()
	c := l.checkpoint(t)
	c.Size = size
	signed, err := note.Sign(&note.Note{Text: string(c.Body())}, fx.logS, fx.cosigner)
	if err != nil {
		t.Fatal(err)
	}
	fx.server.set(published{log: l, size: uint64(len(l.leaves)), checkpoint: signed}, "")
}

// aliceLog is a log of five leaves: alice's name, her entries 0 to 2,
// and one of bob's among them.
func aliceLog(t testing.TB) *testLog {
	return new(testLog).add(t,
		nameLeaf(aliceName, alice, entry(alice, 0)),
		chainLeaf(alice, 0, entry(alice, 0)),
		chainLeaf(bob, 0, entry(bob, 0)),
		chainLeaf(alice, 1, entry(alice, 1)),
		chainLeaf(alice, 2, entry(alice, 2)))
}
