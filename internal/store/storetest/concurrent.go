package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/coffer-backup/coffer/internal/store"
)

// testConcurrentSameName races many Puts of different contents under one
// name: exactly one must win, the others must get ErrExists, and the stored
// bytes must be the winner's.
func testConcurrentSameName(t *testing.T, s store.Store) {
	const racers = 16
	size := func(i int) int64 { return 256<<10 + int64(i) }
	for round := range 3 {
		name := fmt.Sprintf("contended-%d", round)
		errs := make([]error, racers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				<-start
				errs[i] = s.Put(context.Background(), store.Packs, name, stream(uint64(i), size(i)), size(i))
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("%s: racers %d and %d both won", name, winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, store.ErrExists):
				t.Errorf("%s: racer %d: got %v, want ErrExists", name, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("%s: nobody won", name)
		}
		if got := get(t, s, store.Packs, name, 0, -1); !bytes.Equal(got, content(t, uint64(winner), size(winner))) {
			t.Errorf("%s: stored bytes are not racer %d's", name, winner)
		}
	}
}

// testConcurrentPutsAndLists puts many objects from many goroutines while
// others list: every listed object must be complete, and all must be listed
// at the end.
func testConcurrentPutsAndLists(t *testing.T, s store.Store) {
	const writers, each = 8, 6
	want := map[string]int64{}
	for w := range writers {
		for i := range each {
			want[fmt.Sprintf("w%d-%d", w, i)] = int64((w*each+i)*1009 + 3)
		}
	}
	done := make(chan struct{})
	var listers, puts sync.WaitGroup
	for range 2 {
		listers.Go(func() { listUntil(t, s, want, done) })
	}
	for w := range writers {
		puts.Go(func() {
			for i := range each {
				name := fmt.Sprintf("w%d-%d", w, i)
				if err := s.Put(context.Background(), store.Index, name, stream(uint64(w), want[name]), want[name]); err != nil {
					t.Errorf("Put %s: %v", name, err)
				}
			}
		})
	}
	puts.Wait()
	close(done)
	listers.Wait()
	wantList(t, s, store.Index, want)
}

// listUntil lists the index kind until done is closed, checking that every
// object it sees is one of want and has its full size.
func listUntil(t *testing.T, s store.Store, want map[string]int64, done <-chan struct{}) {
	for {
		err := s.List(context.Background(), store.Index, func(oi store.ObjectInfo) error {
			if size, ok := want[oi.Name]; !ok || size != oi.Size {
				return fmt.Errorf("listed %s with %d bytes, want %d (known: %v)", oi.Name, oi.Size, size, ok)
			}
			return nil
		})
		if err != nil {
			t.Errorf("List while putting: %v", err)
			return
		}
		select {
		case <-done:
			return
		default:
		}
	}
}
