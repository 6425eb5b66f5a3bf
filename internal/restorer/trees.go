package restorer

import (
	"context"
	"sync"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/tree"
	"github.com/coffer-backup/coffer/internal/treewalk"
)

// maxTreeCache bounds the plaintext of tree blobs a restore keeps.
const maxTreeCache = 64 << 20

// loadFunc reads one blob through the index, as repo.Repo.LoadBlob does.
type loadFunc func(ctx context.Context, t blob.Type, id blob.ID, dst []byte) ([]byte, error)

// trees loads the tree blobs of a restore: prefetch reads, level by level
// and in parallel, the distinct trees below some, and keeps their
// plaintext, up to maxTreeCache bytes, so that measuring and walking the
// snapshot read each tree once. A tree in a tree pack is read with its
// whole pack, which the repository keeps (docs/format.md §6.7); one in a
// pack of an older writer, among data blobs, is read on its own, not in
// windows, since a window holding it holds mostly data, which the pack
// phase reads anyway. It is safe for concurrent use.
type trees struct {
	load    loadFunc
	workers int
	mu      sync.Mutex
	cache   map[blob.ID][]byte
	size    int
}

func newTrees(load loadFunc, workers int) *trees {
	return &trees{load: load, workers: workers, cache: make(map[blob.ID][]byte)}
}

// LoadBlob appends a blob's plaintext to dst, from the cache for a tree
// prefetched or loaded before.
func (ts *trees) LoadBlob(ctx context.Context, t blob.Type, id blob.ID, dst []byte) ([]byte, error) {
	if t == blob.Tree {
		ts.mu.Lock()
		b, ok := ts.cache[id]
		ts.mu.Unlock()
		if ok {
			return append(dst, b...), nil
		}
	}
	out, err := ts.load(ctx, t, id, dst)
	if err == nil && t == blob.Tree {
		ts.keep(id, out[len(dst):])
	}
	return out, err
}

// keep caches a tree's plaintext while there is room.
func (ts *trees) keep(id blob.ID, b []byte) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if _, ok := ts.cache[id]; ok || ts.size+len(b) > maxTreeCache {
		return ok
	}
	ts.cache[id] = append([]byte(nil), b...)
	ts.size += len(b)
	return true
}

// prefetch loads, a level at a time, the trees ids and every tree below
// them, each distinct tree once, at most treewalk.MaxDepth levels deep,
// until the cache is full. Trees that fail to load or decode are left for
// the measure or the walk to report.
func (ts *trees) prefetch(ctx context.Context, ids []blob.ID) {
	seen := make(map[blob.ID]bool)
	level := unseen(seen, ids)
	for depth := 0; len(level) > 0 && depth <= treewalk.MaxDepth && ctx.Err() == nil; depth++ {
		var next []blob.ID
		for _, sub := range ts.fetch(ctx, level) {
			next = append(next, unseen(seen, sub)...)
		}
		level = next
	}
}

// unseen returns the ids not in seen, marking them seen.
func unseen(seen map[blob.ID]bool, ids []blob.ID) []blob.ID {
	var out []blob.ID
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// fetch loads the trees ids in parallel and returns, for each it could
// load and keep, the subtrees of its directories.
func (ts *trees) fetch(ctx context.Context, ids []blob.ID) [][]blob.ID {
	out := make([][]blob.ID, len(ids))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(ts.workers, len(ids)) {
		wg.Go(func() {
			for i := range work {
				out[i] = ts.fetchOne(ctx, ids[i])
			}
		})
	}
	for i := range ids {
		work <- i
	}
	close(work)
	wg.Wait()
	return out
}

// fetchOne loads one tree and returns the subtrees it lists.
func (ts *trees) fetchOne(ctx context.Context, id blob.ID) []blob.ID {
	b, err := ts.load(ctx, blob.Tree, id, nil)
	if err != nil || !ts.keep(id, b) {
		return nil
	}
	t, err := tree.Decode(b)
	if err != nil {
		return nil
	}
	var subs []blob.ID
	for _, n := range t.Nodes {
		subs = append(subs, n.Subtrees...)
	}
	return subs
}
