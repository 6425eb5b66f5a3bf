package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/remote"
)

// Load test parameters.
const (
	loadClients  = 50
	loadDuration = 8 * time.Second
	maxLoadSize  = 256 << 10 // largest object a client puts
)

// loadStats is what one client did.
type loadStats struct {
	ops, up, down int64
	latencies     []time.Duration
}

// newLoadClient registers a new account with a new device.
func newLoadClient(t *testing.T, url string) *remote.Store {
	dev, err := keys.NewDevice("load")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dev.Zero)
	var acct [16]byte
	rand.Read(acct[:])
	nk, err := repo.NewAccount(hex.EncodeToString(acct[:]), dev)
	if err != nil {
		t.Fatal(err)
	}
	nk.Zero()
	s, err := remote.Create(context.Background(), url, remote.Options{Account: nk.Account, Device: dev, Genesis: nk.Genesis})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// loadLoop puts, reads back (whole and a range), stats and now and then
// lists objects until the deadline, checking every answer.
func loadLoop(ctx context.Context, s *remote.Store, seed uint64, deadline time.Time) (loadStats, error) {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	rng := mrand.NewChaCha8(key)
	var st loadStats
	timed := func(f func() error) error {
		start := time.Now()
		err := f()
		st.latencies = append(st.latencies, time.Since(start))
		st.ops++
		return err
	}
	for i := 0; time.Now().Before(deadline); i++ {
		data := make([]byte, 1+mrand.IntN(maxLoadSize))
		rng.Read(data)
		sum := sha256.Sum256(data)
		name := hex.EncodeToString(sum[:])
		if err := timed(func() error { return s.Put(ctx, store.Packs, name, bytes.NewReader(data), int64(len(data))) }); err != nil {
			return st, err
		}
		var got []byte
		err := timed(func() (err error) { got, err = store.ReadAll(ctx, s, store.Packs, name, maxLoadSize); return err })
		if err == nil && !bytes.Equal(got, data) {
			err = fmt.Errorf("packs/%s: read back other bytes", name)
		}
		if err != nil {
			return st, err
		}
		st.up, st.down = st.up+int64(len(data)), st.down+int64(len(got))
		if err := timed(func() error {
			oi, err := s.Stat(ctx, store.Packs, name)
			if err == nil && oi.Size != int64(len(data)) {
				err = fmt.Errorf("packs/%s: Stat says %d bytes, not %d", name, oi.Size, len(data))
			}
			return err
		}); err != nil {
			return st, err
		}
		if i%10 == 9 {
			n := 0
			if err := timed(func() error {
				return s.List(ctx, store.Packs, func(store.ObjectInfo) error { n++; return nil })
			}); err != nil {
				return st, err
			}
			if n != i+1 {
				return st, fmt.Errorf("listed %d packs after putting %d", n, i+1)
			}
		}
	}
	return st, nil
}

// TestLoad runs 50 clients, each in its own account, against one server
// (SQLite, a directory) for a bounded time, requires that nothing fails,
// and reports the throughput, the latencies and the server's peak memory.
func TestLoad(t *testing.T) {
	srv := startServer(t, t.TempDir(), "127.0.0.1:0", "--rate", "0")
	r := runLoad(t, []string{srv.URL})
	t.Logf("one instance, SQLite and a directory: %s; server peak RSS %.1f MiB", r, float64(srv.peakRSS(t))/1024)
}

// TestLoadScaled runs the load of TestLoad over two instances sharing one
// PostgreSQL database and one bucket (versitygw), the clients alternating
// between them, and reports the same figures, the peak number of
// database connections and each instance's peak memory.
func TestLoadScaled(t *testing.T) {
	c := newScaled(t)
	srv := c.start(t, 2)
	conns := watchConnections(t, c.db)
	r := runLoad(t, []string{srv[0].URL, srv[1].URL})
	t.Logf("two instances, PostgreSQL and S3: %s; peak database connections %d; peak RSS %.1f and %.1f MiB",
		r, conns(), float64(srv[0].peakRSS(t))/1024, float64(srv[1].peakRSS(t))/1024)
}

// loadReport is what all the clients of a load run did.
type loadReport struct {
	total   loadStats
	errors  int // clients that stopped on an error
	elapsed time.Duration
}

func (r loadReport) String() string {
	lat := r.total.latencies
	pct := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))].Round(time.Microsecond) }
	mib := func(n int64) float64 { return float64(n) / (1 << 20) / r.elapsed.Seconds() }
	return fmt.Sprintf("%d clients for %.1fs: %d requests (%.0f/s), %d errors, %.1f MiB/s up, %.1f MiB/s down; latency p50 %v, p99 %v, max %v",
		loadClients, r.elapsed.Seconds(), r.total.ops, float64(r.total.ops)/r.elapsed.Seconds(), r.errors,
		mib(r.total.up), mib(r.total.down), pct(0.5), pct(0.99), pct(1))
}

// runLoad runs loadClients clients, client i on urls[i%len(urls)], for
// loadDuration, and fails the test if any client fails.
func runLoad(t *testing.T, urls []string) loadReport {
	t.Helper()
	clients := make([]*remote.Store, loadClients)
	for i := range clients {
		clients[i] = newLoadClient(t, urls[i%len(urls)])
	}
	results := make([]loadStats, loadClients)
	errs := make([]error, loadClients)
	start := time.Now()
	deadline := start.Add(loadDuration)
	var wg sync.WaitGroup
	for i, s := range clients {
		wg.Go(func() { results[i], errs[i] = loadLoop(context.Background(), s, uint64(i), deadline) })
	}
	wg.Wait()
	r := loadReport{elapsed: time.Since(start)}
	for i, res := range results {
		if errs[i] != nil {
			r.errors++
			t.Errorf("client %d: %v", i, errs[i])
		}
		r.total.ops, r.total.up, r.total.down = r.total.ops+res.ops, r.total.up+res.up, r.total.down+res.down
		r.total.latencies = append(r.total.latencies, res.latencies...)
	}
	slices.Sort(r.total.latencies)
	if len(r.total.latencies) == 0 {
		t.Fatal("no request was made")
	}
	return r
}

// watchConnections samples the number of connections to the database at
// url every 100 ms until the test ends, and returns a function giving
// the peak so far.
func watchConnections(t *testing.T, url string) func() int64 {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	var peak atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			var n int64
			if conn.QueryRow(ctx, "SELECT count(*) - 1 FROM pg_stat_activity WHERE datname = current_database()").Scan(&n) == nil && n > peak.Load() {
				peak.Store(n)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	t.Cleanup(func() { cancel(); <-done; conn.Close(context.Background()) })
	return peak.Load
}
