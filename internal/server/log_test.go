package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/coffer-backup/coffer/internal/server/meta"
	"github.com/coffer-backup/coffer/internal/server/wire"
	"github.com/coffer-backup/coffer/internal/tlog"
	"github.com/coffer-backup/coffer/internal/witness"
)

const testOrigin = "log.coffer.test/v1"

// testWitness is a real witness (internal/witness) served over HTTP,
// which answers 503 while down is set, sends one byte and stalls while
// stalled is set, and cosigns at the time in now (POSIX seconds) once it
// is set.
type testWitness struct {
	srv      *httptest.Server
	vkey     string
	verifier note.Verifier
	down     atomic.Bool
	stalled  atomic.Bool
	now      atomic.Int64
	// oldSizes counts the submissions it refused for an old size other
	// than the one it holds (409).
	oldSizes atomic.Int32
}

// statusWriter notes the status of an answer.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// newWitness starts a witness named name for the log of verifier key
// logVKey, stopped when the test ends.
func newWitness(t *testing.T, name, logVKey string) *testWitness {
	t.Helper()
	skey, vkey, err := tlog.GenerateCosignerKey(name)
	must(t, err)
	tw := &testWitness{vkey: vkey}
	signer, err := tlog.NewCosigner(skey, func() time.Time {
		if now := tw.now.Load(); now != 0 {
			return time.Unix(now, 0)
		}
		return time.Now()
	})
	must(t, err)
	lv, err := tlog.NewLogVerifier(logVKey)
	must(t, err)
	st, err := witness.OpenFileStore(t.TempDir())
	must(t, err)
	w, err := witness.New(st, signer, map[string]note.Verifier{lv.Name(): lv})
	must(t, err)
	tw.verifier, err = tlog.NewCosignatureVerifier(vkey)
	must(t, err)
	quit := make(chan struct{})
	tw.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch {
		case tw.down.Load():
			http.Error(rw, "down", http.StatusServiceUnavailable)
		case tw.stalled.Load():
			rw.Header().Set("Content-Length", "100")
			rw.Write([]byte("—"))
			rw.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-quit:
			}
		default:
			sw := &statusWriter{ResponseWriter: rw}
			w.ServeHTTP(sw, r)
			if sw.status == http.StatusConflict {
				tw.oldSizes.Add(1)
			}
		}
	}))
	t.Cleanup(tw.srv.Close)
	t.Cleanup(func() { close(quit) }) // first: the server waits for its handlers
	return tw
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// logEnv is a server whose log is cosigned by witnesses, and the policy
// that requires all of them.
type logEnv struct {
	*env
	data      string
	vkey      string
	witnesses []*testWitness
	policy    tlog.Policy
}

// newLogEnv makes a server in data (a new directory if empty) with a log
// key made beforehand and n witnesses, configured further by mods.
func newLogEnv(t *testing.T, data string, n int, mods ...func(*Config)) *logEnv {
	t.Helper()
	if data == "" {
		data = t.TempDir()
		skey, _, err := tlog.GenerateLogKey(testOrigin)
		must(t, err)
		must(t, os.WriteFile(filepath.Join(data, logKeyFile), []byte(skey), 0o600))
	}
	k, err := loadLogKey(data, "")
	must(t, err)
	le := &logEnv{data: data, vkey: k.vkey}
	var ws []Witness
	for i := range n {
		w := newWitness(t, fmt.Sprintf("witness.test/w%d", i), k.vkey)
		le.witnesses = append(le.witnesses, w)
		ws = append(ws, Witness{VKey: w.vkey, URL: w.srv.URL})
		le.policy.Witnesses = append(le.policy.Witnesses, w.verifier)
	}
	le.policy.Log, err = tlog.NewLogVerifier(k.vkey)
	must(t, err)
	le.policy.Threshold = n
	le.env = newEnv(t, append([]func(*Config){func(c *Config) { c.Data, c.Witnesses = data, ws }}, mods...)...)
	return le
}

// checkpoint fetches /log/checkpoint and opens it under the policy.
func (le *logEnv) checkpoint(t *testing.T) (tlog.Checkpoint, []byte, error) {
	t.Helper()
	r := le.do(req{method: "GET", path: "/log/checkpoint"})
	if r.status != 200 || r.header.Get("Content-Type") != "text/plain; charset=utf-8" || r.header.Get("Cache-Control") != cacheNone {
		t.Fatalf("checkpoint: %d %q %q", r.status, r.header.Get("Content-Type"), r.header.Get("Cache-Control"))
	}
	c, _, err := le.policy.Verify(r.body)
	if err != nil {
		return tlog.Checkpoint{}, r.body, err
	}
	return *c, r.body, nil
}

// Tile fetches a tile of the log: logEnv is a tlog.TileFetcher.
func (le *logEnv) Tile(_ context.Context, path string) ([]byte, error) {
	r := le.do(req{method: "GET", path: "/log/" + path})
	if r.status != 200 {
		return nil, fmt.Errorf("GET /log/%s: %d", path, r.status)
	}
	return r.body, nil
}

// chainLeaf is the leaf of entry seq of an account's chain.
func chainLeaf(t testing.TB, account string, seq uint64, entry []byte) []byte {
	t.Helper()
	id, err := tlog.ParseAccountID(account)
	must(t, err)
	return (&tlog.ChainLeaf{Account: id, Seq: seq, EntryHash: sha256.Sum256(entry)}).Marshal()
}

// chainEntries reads an account's whole chain through the API.
func (e *env) chainEntries(a *account) [][]byte {
	e.t.Helper()
	return decode[wire.ChainPage](e.t, e.do(req{method: "GET", path: "/v1/chain", token: a.token})).Entries
}

// TestLogCosigned checks that every chain append is answered only once a
// checkpoint cosigned by every witness covers it, and that the tiles and
// bundles served prove each entry's leaf in it.
func TestLogCosigned(t *testing.T) {
	le := newLogEnv(t, "", 2)
	ctx := context.Background()
	var prev tlog.Checkpoint
	var want [][]byte
	for n := 1; n <= 3; n++ {
		a := le.newAccount(n) // a genesis and an add-device entry
		for seq, e := range le.chainEntries(a) {
			want = append(want, chainLeaf(t, a.id, uint64(seq), e))
		}
		c, _, err := le.checkpoint(t)
		must(t, err)
		if c.Origin != testOrigin || c.Size != uint64(len(want)) {
			t.Fatalf("checkpoint of %s at size %d, want %s at %d", c.Origin, c.Size, testOrigin, len(want))
		}
		must(t, tlog.VerifyConsistency(ctx, le, prev.Size, prev.Root, c))
		for i, l := range want {
			if err := tlog.VerifyInclusion(ctx, le, c, uint64(i), l); err != nil {
				t.Errorf("leaf %d: %v", i, err)
			}
		}
		leaves, err := tlog.ReadLeaves(ctx, le, c, 0, c.Size)
		must(t, err)
		if !equalLeaves(leaves, want) {
			t.Errorf("leaves read: %x, want %x", leaves, want)
		}
		prev = c
	}
	for _, tc := range []struct {
		path, cache string
		status      int
	}{
		{"tile/0/000.p/6", cacheNone, 200},
		{"tile/0/000.p/3", cacheNone, 200}, // of an earlier tree
		{"tile/entries/000.p/6", cacheNone, 200},
		{"tile/0/000.p/7", "", 404},
		{"tile/entries/000.p/7", "", 404},
		{"tile/0/000", "", 404},
		{"tile/1/000.p/1", "", 404},
	} {
		r := le.do(req{method: "GET", path: "/log/" + tc.path})
		if r.status != tc.status || tc.status == 200 && (r.header.Get("Cache-Control") != tc.cache || r.header.Get("Content-Type") != "application/octet-stream") {
			t.Errorf("%s: %d %q, want %d %q", tc.path, r.status, r.header.Get("Cache-Control"), tc.status, tc.cache)
		}
	}
	r := le.do(req{method: "GET", path: "/log/vkey"})
	if r.status != 200 || string(r.body) != le.vkey+"\n" {
		t.Errorf("vkey: %d %q, want %q", r.status, r.body, le.vkey)
	}
	if b, err := os.ReadFile(filepath.Join(le.data, logVKeyFile)); err != nil || string(b) != le.vkey+"\n" {
		t.Errorf("%s: %q, %v", logVKeyFile, b, err)
	}
}

func equalLeaves(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// bulkLeaves logs n genesis entries of made-up accounts straight through
// the database, publishes a checkpoint of them, and returns their leaves.
func bulkLeaves(t *testing.T, e *env, n int) [][]byte {
	t.Helper()
	ctx := context.Background()
	var leaves [][]byte
	for i := range n {
		account, g := accountID(10_000+i), fmt.Appendf(nil, "genesis %d", i)
		_, err := e.s.db.CreateAccount(ctx, account, g, meta.Change{At: e.clock.Now()})
		must(t, err)
		leaves = append(leaves, chainLeaf(t, account, 0, g))
	}
	size, err := e.s.db.LogSize(ctx)
	must(t, err)
	must(t, e.s.pub.await(ctx, size))
	return leaves
}

// TestLogFullTiles checks a log of more than a tile: full tiles and
// bundles are immutable, and leaves read across the tile boundary verify.
func TestLogFullTiles(t *testing.T) {
	le := newLogEnv(t, "", 1)
	want := bulkLeaves(t, le.env, 300)
	c, _, err := le.checkpoint(t)
	must(t, err)
	if c.Size != 300 {
		t.Fatalf("checkpoint of %d leaves, want 300", c.Size)
	}
	leaves, err := tlog.ReadLeaves(context.Background(), le, c, 200, 300)
	must(t, err)
	if !equalLeaves(leaves, want[200:]) {
		t.Error("leaves 200 to 300 differ")
	}
	for path, cache := range map[string]string{
		"tile/0/000": cacheImmutable, "tile/entries/000": cacheImmutable,
		"tile/0/001.p/44": cacheNone, "tile/entries/001.p/44": cacheNone, "tile/1/000.p/1": cacheNone,
	} {
		r := le.do(req{method: "GET", path: "/log/" + path})
		if r.status != 200 || r.header.Get("Cache-Control") != cache {
			t.Errorf("%s: %d %q, want %q", path, r.status, r.header.Get("Cache-Control"), cache)
		}
	}
}

// TestWitnessStalled checks that a witness that answers one byte and then
// stalls holds up publishing for witnessTimeout only: the append is
// answered, with a checkpoint that lacks that witness's cosignature, and
// the log names the witness.
func TestWitnessStalled(t *testing.T) {
	le := newLogEnv(t, "", 2)
	a := le.newAccount(1)
	le.witnesses[1].stalled.Store(true)
	start := time.Now()
	le.appendEntry(a, a.token, a.addDevice(t, newDevice(50))).want(t, "append with a witness stalled", 201, "")
	if took := time.Since(start); took > witnessTimeout+3*time.Second {
		t.Errorf("the append took %v", took)
	}
	one := le.policy
	one.Threshold = 1
	if _, signed, _ := le.checkpoint(t); signed == nil {
		t.Fatal("no checkpoint")
	} else if c, names, err := one.Verify(signed); err != nil || len(names) != 1 || names[0] != "witness.test/w0" {
		t.Errorf("checkpoint with a witness stalled: %v %v %v", c, names, err)
	}
	if l := le.log.String(); !strings.Contains(l, "witness did not cosign") || !strings.Contains(l, le.witnesses[1].srv.URL) {
		t.Error("the stalled witness was not logged by its URL")
	}
}

// TestWitnessDown checks that a checkpoint is published without the
// cosignature of a witness that is down (and a policy that needs it
// refuses it), and that the witness cosigns again once it is back, also
// after a restart of the server, which has forgotten the witness's size.
func TestWitnessDown(t *testing.T) {
	le := newLogEnv(t, "", 2)
	a := le.newAccount(1)
	le.witnesses[1].down.Store(true)
	le.appendEntry(a, a.token, a.addDevice(t, newDevice(50))).want(t, "append with a witness down", 201, "")
	c, signed, err := le.checkpoint(t)
	if !errors.Is(err, tlog.ErrTooFewCosignatures) {
		t.Fatalf("checkpoint with a witness down: %v", err)
	}
	one := le.policy
	one.Threshold = 1
	if c, names, err := one.Verify(signed); err != nil || c.Size != 3 || len(names) != 1 || names[0] != "witness.test/w0" {
		t.Errorf("checkpoint with a witness down: %v %v %v", c, names, err)
	}
	if !strings.Contains(le.log.String(), "witness did not cosign") {
		t.Error("the failed witness was not logged")
	}
	le.witnesses[1].down.Store(false)
	le.appendEntry(a, a.token, a.addDevice(t, newDevice(51))).want(t, "append with the witness back", 201, "")
	if c, _, err = le.checkpoint(t); err != nil || c.Size != 4 {
		t.Fatalf("checkpoint with the witness back: size %d, %v", c.Size, err)
	}

	// A restarted server sends the witnesses an old size of 0 and is told
	// theirs, 4.
	le.s.Close()
	re := newEnv(t, func(cfg *Config) {
		cfg.Data = le.data
		for _, w := range le.witnesses {
			cfg.Witnesses = append(cfg.Witnesses, Witness{VKey: w.vkey, URL: w.srv.URL})
		}
	})
	le.env = re
	a.token = le.login(a.id, a.full)
	le.appendEntry(a, a.token, a.addDevice(t, newDevice(52))).want(t, "append after a restart", 201, "")
	if c, _, err = le.checkpoint(t); err != nil || c.Size != 5 {
		t.Errorf("checkpoint after a restart: size %d, %v", c.Size, err)
	}
}

// TestLogRefresh checks that the server has its witnesses cosign the
// current checkpoint again, with fresh timestamps, although no leaf was
// added; that a witness that is down meanwhile keeps its last
// cosignature of that tree in the checkpoint; and that a new tree carries
// no cosignature of an older one.
func TestLogRefresh(t *testing.T) {
	le := newLogEnv(t, "", 2, func(c *Config) { c.LogRefresh = 20 * time.Millisecond })
	a := le.newAccount(1)
	c, _, err := le.checkpoint(t)
	must(t, err)
	base := time.Unix(1800000000, 0)
	tests := []struct {
		name   string
		act    func()
		size   uint64
		w0, w1 time.Time // the cosignatures' times; zero: none
	}{
		{"refreshed with no new leaf", func() {
			le.witnesses[0].now.Store(base.Unix())
			le.witnesses[1].now.Store(base.Unix())
		}, c.Size, base, base},
		{"a witness down keeps its cosignature", func() {
			le.witnesses[1].down.Store(true)
			le.witnesses[0].now.Store(base.Add(time.Hour).Unix())
		}, c.Size, base.Add(time.Hour), base},
		{"a new tree drops cosignatures of the old", func() {
			le.appendEntry(a, a.token, a.addDevice(t, newDevice(50))).want(t, "append with a witness down", 201, "")
		}, c.Size + 1, base.Add(time.Hour), time.Time{}},
		{"the witness back cosigns the new tree", func() {
			le.witnesses[1].now.Store(base.Add(2 * time.Hour).Unix())
			le.witnesses[1].down.Store(false)
		}, c.Size + 1, base.Add(time.Hour), base.Add(2 * time.Hour)},
	}
	anyWitness := le.policy
	anyWitness.Threshold = 0
	for _, tc := range tests {
		tc.act()
		var got []tlog.Cosignature
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			r := le.do(req{method: "GET", path: "/log/checkpoint"})
			cp, cosigs, err := anyWitness.Open(r.body)
			must(t, err)
			got = cosigs
			if cp.Size == tc.size && slices.Equal(cosigs, wantCosigs(tc.w0, tc.w1)) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: checkpoint of size %d cosigned %v; want size %d cosigned %v", tc.name, cp.Size, got, tc.size, wantCosigs(tc.w0, tc.w1))
			}
		}
	}
}

// wantCosigs lists the cosignatures of witness.test/w0 and w1 at their
// times, leaving out those with the zero time.
func wantCosigs(w0, w1 time.Time) []tlog.Cosignature {
	var out []tlog.Cosignature
	for i, when := range []time.Time{w0, w1} {
		if !when.IsZero() {
			out = append(out, tlog.Cosignature{Name: fmt.Sprintf("witness.test/w%d", i), Time: when})
		}
	}
	return out
}

// TestNamesLogged checks account names: registration by a full device,
// first come first served, at most wire.MaxNames per account, each logged
// as a name leaf binding the account's genesis; lookups by anyone.
func TestNamesLogged(t *testing.T) {
	le := newLogEnv(t, "", 1)
	a, b := le.newAccount(1), le.newAccount(2)
	register := func(tok, name string) resp {
		return le.do(req{method: "POST", path: "/v1/names", token: tok, body: wire.NameRequest{Name: name}})
	}
	r := register(a.token, "alice@example.org")
	r.want(t, "register", 201, "")
	info := decode[wire.NameInfo](t, r)
	if info.Account != a.id || info.Index != 4 {
		t.Errorf("registered %+v, want account %s at index 4", info, a.id)
	}
	c, _, err := le.checkpoint(t)
	must(t, err)
	id, _ := tlog.ParseAccountID(a.id)
	leaf := &tlog.NameLeaf{NameHash: tlog.NameHash("alice@example.org"), Account: id, GenesisHash: sha256.Sum256(le.chainEntries(a)[0])}
	if err := tlog.VerifyInclusion(context.Background(), le, c, info.Index, leaf.Marshal()); err != nil {
		t.Errorf("name leaf: %v", err)
	}
	for _, tc := range []struct {
		tok, name string
		status    int
		code      string
	}{
		{b.token, "alice@example.org", 409, "exists"},
		{a.token, "alice@example.org", 409, "exists"},
		{a.token, "Alice", 400, "bad_request"},
		{a.token, "", 400, "bad_request"},
		{a.aoToken, "ao", 403, "forbidden"},
		{a.token, "a2", 201, ""},
		{a.token, "a3", 201, ""},
		{a.token, "a4", 201, ""},
		{a.token, "a5", 413, "quota"},
		{b.token, "a5", 201, ""},
	} {
		register(tc.tok, tc.name).want(t, "register "+tc.name, tc.status, tc.code)
	}
	for _, tok := range []string{a.token, b.token, b.aoToken, le.login(a.id, principalOf(a.recovery))} {
		r := le.do(req{method: "GET", path: "/v1/names/alice@example.org", token: tok})
		if got := decode[wire.NameInfo](t, r); r.status != 200 || got != info {
			t.Errorf("lookup: %d %+v, want %+v", r.status, got, info)
		}
	}
	le.do(req{method: "GET", path: "/v1/names/nobody", token: b.token}).want(t, "unknown name", 404, "not_found")
	if c, _, err := le.checkpoint(t); err != nil || c.Size != 9 {
		t.Errorf("checkpoint after 5 names: size %d, %v", c.Size, err)
	}
}

// TestLogKey checks the log key files: made on first start with the
// origin given (or a random one), kept, and refused with another origin.
func TestLogKey(t *testing.T) {
	data := t.TempDir()
	s, err := New(Config{Data: data, InsecureHTTP: true, LogOrigin: testOrigin, Log: &syncBuffer{}})
	must(t, err)
	vkey := s.LogKey()
	s.Close()
	if !strings.HasPrefix(vkey, testOrigin+"+") {
		t.Errorf("log key %q not of origin %s", vkey, testOrigin)
	}
	for name, perm := range map[string]os.FileMode{logKeyFile: 0o600, logVKeyFile: 0o644} {
		fi, err := os.Stat(filepath.Join(data, name))
		if err != nil || fi.Mode().Perm() != perm {
			t.Errorf("%s: %v, %v; want mode %v", name, fi.Mode(), err, perm)
		}
	}
	must(t, os.Remove(filepath.Join(data, logVKeyFile))) // made again from the key
	for _, origin := range []string{"", testOrigin} {
		s, err := New(Config{Data: data, InsecureHTTP: true, LogOrigin: origin, Log: &syncBuffer{}})
		must(t, err)
		if s.LogKey() != vkey {
			t.Errorf("restarted with origin %q: key %q, want %q", origin, s.LogKey(), vkey)
		}
		s.Close()
	}
	if b, err := os.ReadFile(filepath.Join(data, logVKeyFile)); err != nil || string(b) != vkey+"\n" {
		t.Errorf("%s: %q, %v", logVKeyFile, b, err)
	}
	if s, err := New(Config{Data: data, InsecureHTTP: true, LogOrigin: "other.origin", Log: &syncBuffer{}}); err == nil {
		s.Close()
		t.Error("started with another origin")
	}
	s, err = New(Config{Data: t.TempDir(), InsecureHTTP: true, Log: &syncBuffer{}})
	must(t, err)
	defer s.Close()
	if origin, _, _ := strings.Cut(s.LogKey(), "+"); !strings.HasPrefix(origin, "coffer.log/") || len(origin) != len("coffer.log/")+16 {
		t.Errorf("default origin %q", origin)
	}
	good := Witness{VKey: newWitness(t, "w", vkey).vkey, URL: "http://127.0.0.1:1"}
	for _, w := range [][]Witness{
		{{VKey: "bad", URL: good.URL}},
		{{VKey: good.VKey, URL: "ftp://x"}},
		{good, good},
	} {
		if s, err := New(Config{Data: t.TempDir(), InsecureHTTP: true, Witnesses: w, Log: &syncBuffer{}}); err == nil {
			s.Close()
			t.Errorf("started with witnesses %+v", w)
		}
	}
}

// TestConcurrentAppendsLogged registers accounts from many goroutines at
// once: each, as soon as it is answered, finds its genesis leaf in the
// checkpoint it reads, and the publications are shared.
func TestConcurrentAppendsLogged(t *testing.T) {
	le := newLogEnv(t, "", 1)
	const n = 16
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id, d := accountID(100+i), newDevice(100+i)
			g := genesis(t, id, d, recoveryKey(t))
			r := le.do(req{method: "POST", path: "/v1/accounts", body: wire.RegisterRequest{Account: id, Genesis: g}})
			if r.status != 201 {
				t.Errorf("register %d: %d", i, r.status)
				return
			}
			c, _, err := le.checkpoint(t)
			if err != nil {
				t.Error(err)
				return
			}
			leaves, err := tlog.ReadLeaves(context.Background(), le, c, 0, c.Size)
			if err != nil || !slices.ContainsFunc(leaves, func(l []byte) bool { return bytes.Equal(l, chainLeaf(t, id, 0, g)) }) {
				t.Errorf("account %d: its genesis is not in the checkpoint of %d leaves read after its answer (%v)", i, c.Size, err)
			}
		})
	}
	wg.Wait()
	if p := strings.Count(le.log.String(), "log checkpoint published"); p > n {
		t.Errorf("%d checkpoints published for %d appends (and the start): none shared", p, n)
	}
}
