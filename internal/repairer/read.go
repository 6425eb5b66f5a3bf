package repairer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/store"
)

// workers is how many packs are read at once; each costs a pack's size
// in memory.
const workers = 2

// loadIndex reads every named index object into rp.listed. Objects that
// cannot be read are recorded as damaged; objects deleted since the
// listing (by a concurrent prune) are skipped.
func (rp *repairer) loadIndex(ctx context.Context, names []string) {
	for _, name := range names {
		f, err := rp.r.LoadIndexFile(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			rp.res.DamagedIndex = append(rp.res.DamagedIndex, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		for _, p := range f.Packs {
			rp.listed[p.ID] = append(rp.listed[p.ID], p.Blobs...)
		}
	}
}

// readPacks reads every pack in the store whole and sorts the copies its
// header and the index name into authentic and false (repo.VerifyPack).
func (rp *repairer) readPacks(ctx context.Context) error {
	sizes, err := rp.r.PackSizes(ctx)
	if err != nil {
		return err
	}
	ids := slices.SortedFunc(maps.Keys(sizes), func(a, b blob.ID) int { return bytes.Compare(a[:], b[:]) })
	var mu sync.Mutex
	return parallel(ctx, len(ids), func(i int) {
		id := ids[i]
		v, err := rp.r.VerifyPack(ctx, id, sizes[id], rp.listed[id])
		mu.Lock()
		defer mu.Unlock()
		switch {
		case errors.Is(err, store.ErrNotFound): // deleted by a concurrent prune
		case err != nil:
			rp.res.Problems = append(rp.res.Problems, fmt.Sprintf("pack %s: %v", id, err))
		default:
			rp.res.Packs++
			for _, p := range v.Problems {
				rp.res.Problems = append(rp.res.Problems, fmt.Sprintf("pack %s: %s", id, p))
			}
			rp.res.BadCopies = append(rp.res.BadCopies, v.Bad...)
			rp.res.Copies += len(v.Good)
			rp.good[id] = v.Good
			rp.headers[id] = v.HeaderLies
		}
	})
}

// parallel calls fn for every i in [0, n) on a few goroutines, until ctx
// is done, and returns ctx's error.
func parallel(ctx context.Context, n int, fn func(i int)) error {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return ctx.Err()
}
