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
	"testing"
	"time"

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
// for a bounded time, requires that nothing fails, and reports the
// throughput, the latencies and the server's peak memory.
func TestLoad(t *testing.T) {
	srv := startServer(t, t.TempDir(), "127.0.0.1:0", "--rate", "0")
	clients := make([]*remote.Store, loadClients)
	for i := range clients {
		clients[i] = newLoadClient(t, srv.URL)
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
	elapsed := time.Since(start)
	var total loadStats
	for i, r := range results {
		if errs[i] != nil {
			t.Errorf("client %d: %v", i, errs[i])
		}
		total.ops, total.up, total.down = total.ops+r.ops, total.up+r.up, total.down+r.down
		total.latencies = append(total.latencies, r.latencies...)
	}
	slices.Sort(total.latencies)
	pct := func(p float64) time.Duration { return total.latencies[int(p*float64(len(total.latencies)-1))] }
	mib := func(n int64) float64 { return float64(n) / (1 << 20) / elapsed.Seconds() }
	t.Logf("%d clients for %.1fs: %d requests (%.0f/s), %.1f MiB/s up, %.1f MiB/s down; latency p50 %v, p99 %v, max %v; server peak RSS %.1f MiB",
		loadClients, elapsed.Seconds(), total.ops, float64(total.ops)/elapsed.Seconds(), mib(total.up), mib(total.down),
		pct(0.5).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), pct(1).Round(time.Microsecond), float64(srv.peakRSS(t))/1024)
}
