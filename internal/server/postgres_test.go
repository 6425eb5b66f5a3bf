package server

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/coffer-backup/coffer/internal/server/meta/pgtest"
	"github.com/coffer-backup/coffer/internal/server/wire"
	"github.com/coffer-backup/coffer/internal/tlog"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// pgConfig is the configuration of instances sharing a new PostgreSQL
// database, a log key file (made beforehand) and a data directory.
func pgConfig(t *testing.T) Config {
	t.Helper()
	key := filepath.Join(t.TempDir(), "log.key")
	skey, _, err := tlog.GenerateLogKey(testOrigin)
	must(t, err)
	must(t, os.WriteFile(key, []byte(skey), 0o600))
	return Config{DB: pgtest.URL(t), LogKeyFile: key, Data: t.TempDir(), InsecureHTTP: true}
}

// withWitness adds a new witness of cfg's log to cfg and returns it.
func withWitness(t *testing.T, cfg *Config) *testWitness {
	t.Helper()
	k, err := loadLogKeyFile(cfg.LogKeyFile, "")
	must(t, err)
	w := newWitness(t, "witness.test/w0", k.vkey)
	cfg.Witnesses = append(cfg.Witnesses, Witness{VKey: w.vkey, URL: w.srv.URL})
	return w
}

// startTogether starts n instances of cfg at once, as a cluster starting
// on an empty database, each served on loopback, with a policy that
// requires the log's signature alone.
func startTogether(t *testing.T, cfg Config, n int) []*logEnv {
	t.Helper()
	servers, errs := make([]*Server, n), make([]error, n)
	logs := make([]*syncBuffer, n)
	var wg sync.WaitGroup
	for i := range n {
		logs[i] = &syncBuffer{}
		c := cfg
		c.Log = logs[i]
		wg.Go(func() { servers[i], errs[i] = New(c) })
	}
	wg.Wait()
	les := make([]*logEnv, n)
	for i, s := range servers {
		must(t, errs[i])
		les[i] = served(t, s, logs[i])
	}
	return les
}

// served serves s on loopback until the test ends.
func served(t *testing.T, s *Server, log *syncBuffer) *logEnv {
	t.Helper()
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() { hs.Close(); s.Close() })
	e := &env{t: t, s: s, url: hs.URL, clock: &clock{t: time.Now()}, log: log, client: http.DefaultClient}
	v, err := tlog.NewLogVerifier(s.LogKey())
	must(t, err)
	return &logEnv{env: e, vkey: s.LogKey(), policy: tlog.Policy{Log: v}}
}

// TestPostgresInstances runs two instances on one PostgreSQL database
// with clients spread over both: each registration is answered only once
// the other instance's checkpoint covers it; a token from one instance
// works on the other; chain appends alternate between them; and both
// serve the same checkpoint, whose tiles from either prove exactly the
// accepted entries.
func TestPostgresInstances(t *testing.T) {
	les := startTogether(t, pgConfig(t), 2)
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { registerAcross(t, les[i%2], les[(i+1)%2], 200+i) })
	}
	wg.Wait()
	a := les[0].newAccount(1) // a login on 0, the append-only device added
	for i := range 4 {
		les[i%2].appendEntry(a, a.token, a.addDevice(t, newDevice(300+i))).want(t, "append", 201, "")
	}
	c0, body0, err := les[0].checkpoint(t)
	must(t, err)
	_, body1, err := les[1].checkpoint(t)
	must(t, err)
	if !bytes.Equal(body0, body1) || c0.Size != n+2+4 {
		t.Fatalf("checkpoints of %d leaves differ between instances, or not of %d", c0.Size, n+6)
	}
	leaves, err := tlog.ReadLeaves(context.Background(), les[1], c0, 0, c0.Size)
	must(t, err)
	for seq, entry := range les[1].chainEntries(a) {
		if !slices.ContainsFunc(leaves, func(l []byte) bool { return bytes.Equal(l, chainLeaf(t, a.id, uint64(seq), entry)) }) {
			t.Errorf("entry %d of the chain is not in the log", seq)
		}
	}
}

// registerAcross registers account n through one instance and checks
// that the checkpoint the other serves right after covers its genesis.
func registerAcross(t *testing.T, via, other *logEnv, n int) {
	id, d := accountID(n), newDevice(n)
	g := genesis(t, id, d, recoveryKey(t))
	r := via.do(req{method: "POST", path: "/v1/accounts", body: wire.RegisterRequest{Account: id, Genesis: g}})
	if r.status != 201 {
		t.Errorf("register %d: %d", n, r.status)
		return
	}
	c, _, err := other.checkpoint(t)
	if err != nil {
		t.Error(err)
		return
	}
	leaves, err := tlog.ReadLeaves(context.Background(), other, c, 0, c.Size)
	if err != nil || !slices.ContainsFunc(leaves, func(l []byte) bool { return bytes.Equal(l, chainLeaf(t, id, 0, g)) }) {
		t.Errorf("account %d: its genesis is not in the other instance's checkpoint of %d leaves (%v)", n, c.Size, err)
	}
}

// TestPostgresLogKey checks that an instance on a database whose log is
// signed by another key refuses to start, and that a database needs a
// log key file.
func TestPostgresLogKey(t *testing.T) {
	cfg := pgConfig(t)
	startTogether(t, cfg, 1)
	other := cfg
	other.LogKeyFile = filepath.Join(t.TempDir(), "other.key") // made, with a new key
	if s, err := New(other); err == nil || !strings.Contains(err.Error(), "refusing to start") {
		if s != nil {
			s.Close()
		}
		t.Errorf("started with another log key: %v", err)
	}
	other.LogKeyFile = ""
	if s, err := New(other); err == nil {
		s.Close()
		t.Error("started on a database without a log key file")
	}
	if _, err := os.Stat(filepath.Join(cfg.Data, "meta.db")); err == nil {
		t.Error("an instance on PostgreSQL made a SQLite database")
	}
}

// TestPostgresWitnessSizes registers accounts through two instances in
// turn, each publishing its own checkpoints: as the witness's last
// cosigned size is shared, no instance ever sends it an old size it does
// not hold, and every checkpoint is cosigned.
func TestPostgresWitnessSizes(t *testing.T) {
	cfg := pgConfig(t)
	w := withWitness(t, &cfg)
	les := startTogether(t, cfg, 2)
	for i := range 6 {
		les[i%2].newAccount(400 + i)
	}
	c, body, err := les[1].checkpoint(t)
	must(t, err)
	one := les[1].policy
	one.Witnesses, one.Threshold = []note.Verifier{w.verifier}, 1
	if _, _, err := one.Verify(body); err != nil || c.Size != 12 {
		t.Errorf("checkpoint of %d leaves: %v; want 12 cosigned", c.Size, err)
	}
	if n := w.oldSizes.Load(); n != 0 {
		t.Errorf("the witness was sent %d checkpoints from a size it did not hold", n)
	}
}

// TestPostgresRefreshOnce runs two instances refreshing the checkpoint
// every interval: together they publish about once per interval, not
// once each.
func TestPostgresRefreshOnce(t *testing.T) {
	cfg := pgConfig(t)
	withWitness(t, &cfg)
	const every, window = 400 * time.Millisecond, 2 * time.Second
	cfg.LogRefresh = every
	les := startTogether(t, cfg, 2)
	published := func() int {
		return strings.Count(les[0].log.String(), "log checkpoint published") + strings.Count(les[1].log.String(), "log checkpoint published")
	}
	start := published()
	time.Sleep(window)
	n := published() - start
	t.Logf("%d publications in %v by two instances refreshing every %v", n, window, every)
	if n < 1 || n > int(window/every)+2 {
		t.Errorf("%d publications in %v, want about %d", n, window, window/every)
	}
}
