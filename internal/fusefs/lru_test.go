//go:build linux

package fusefs

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestLRU(t *testing.T) {
	ctx := context.Background()
	c := newLRU[int, string](100)
	loads := 0
	get := func(k int, weight int64) string {
		v, err := c.get(ctx, k, func() (string, int64, error) { loads++; return string(rune('a' + k)), weight, nil })
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	get(1, 25)
	get(2, 25)
	get(1, 25) // kept: 1 is now the most recent
	if loads != 2 {
		t.Fatalf("%d loads, want 2", loads)
	}
	get(3, 25)
	get(4, 25)
	get(5, 25) // 125 > 100: 2, the least recent, goes
	get(1, 25)
	if loads != 5 {
		t.Fatalf("%d loads, want 5: 1 should have been kept", loads)
	}
	get(2, 25)
	if loads != 6 || c.used > c.max {
		t.Fatalf("%d loads, %d bytes kept: 2 should have been dropped", loads, c.used)
	}
	get(9, 30) // over max/4: returned, not kept
	get(9, 30)
	if loads != 8 {
		t.Fatalf("%d loads: a value over a quarter of the cache was kept", loads)
	}
	if _, err := c.get(ctx, 7, func() (string, int64, error) { return "", 1, errors.New("no") }); err == nil || len(c.items) != 4 {
		t.Fatalf("failed load: err %v, %d items", err, len(c.items))
	}
}

// TestLRULoadsOnce has many callers want one key at once.
func TestLRULoadsOnce(t *testing.T) {
	c := newLRU[int, int](1 << 20)
	var loads atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := c.get(context.Background(), 1, func() (int, int64, error) { loads.Add(1); <-release; return 42, 8, nil })
			if v != 42 || err != nil {
				t.Errorf("got %d, %v", v, err)
			}
		}()
	}
	close(release)
	wg.Wait()
	if n := loads.Load(); n != 1 {
		t.Errorf("%d loads of one key", n)
	}
}
