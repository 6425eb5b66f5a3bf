package repo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/index"
)

// ErrBadCopy is wrapped by every error about bytes that were read but are
// not the blob the index or a pack header names there: they fail
// authentication, decompression or the ID check (docs/format.md §3.0).
// Errors that do not wrap it (a missing pack, a network failure) say
// nothing about the copy.
var ErrBadCopy = errors.New("not an authentic copy")

// badCopyError keeps the message of err and adds ErrBadCopy to what it
// wraps.
type badCopyError struct{ err error }

func (e badCopyError) Error() string   { return e.err.Error() }
func (e badCopyError) Unwrap() []error { return []error{e.err, ErrBadCopy} }

// Sealer returns the repository's sealer, for code that builds packs by
// hand (tests playing a hostile device that holds the keys).
func (r *Repo) Sealer() *crypt.Sealer { return r.sealer }

// OnUpload makes the Repo call fn with the listing of every pack it
// uploads from now on, once the pack is stored: prune trusts, without
// reading them back, the copies it sealed itself (docs/format.md §8.3).
// fn must be safe for concurrent use; nil stops the calls.
func (r *Repo) OnUpload(fn func(index.Pack)) {
	if fn == nil {
		r.onUpload.Store(nil)
		return
	}
	r.onUpload.Store(&fn)
}

// LoadCopy reads the one copy of a blob at loc and appends its plaintext
// to dst. A tree blob in a tree pack is read from the whole pack, fetched
// once and kept in memory (docs/format.md §6.7). It succeeds only if the bytes authenticate as the blob of type t
// and ID id (docs/format.md §3.0): a copy that does not, however validly
// encrypted, returns an error wrapping ErrBadCopy.
func (r *Repo) LoadCopy(ctx context.Context, t blob.Type, id blob.ID, loc index.Location, dst []byte) ([]byte, error) {
	if loc.Type != t {
		return nil, badCopyError{fmt.Errorf("blob %s is indexed as %s, expected %s", id.Short(), loc.Type, t)}
	}
	if r.wholeTreePack(t, loc) {
		return r.loadFromTreePack(ctx, t, id, loc, dst)
	}
	return r.loadRange(ctx, t, id, loc, dst)
}

// loadRange reads the copy at loc on its own, in one ranged read.
func (r *Repo) loadRange(ctx context.Context, t blob.Type, id blob.ID, loc index.Location, dst []byte) ([]byte, error) {
	env, err := r.ReadPackRange(ctx, loc.Pack, int64(loc.Offset), int64(loc.Length))
	if err != nil {
		return nil, err
	}
	return r.OpenBlob(dst, t, id, env, int(loc.RawLength))
}

// copyReader reads one copy of a blob, as LoadCopy does.
type copyReader func(ctx context.Context, t blob.Type, id blob.ID, loc index.Location, dst []byte) ([]byte, error)

// loadCopies tries every copy of the blob that the index lists, in the
// order of packHealth.order, until one authenticates (docs/format.md
// §7.3), and records in r.health how each attempt went. A failed copy
// never ends the search unless ctx is done. If none authenticates, the
// error joins the reason of every copy.
func (r *Repo) loadCopies(ctx context.Context, t blob.Type, id blob.ID, dst []byte, read copyReader) ([]byte, error) {
	locs, err := r.copiesOf(t, id)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, loc := range r.health.order(locs) {
		out, err := read(ctx, t, id, loc, dst)
		if err == nil {
			r.health.record(loc.Pack, true)
			return out, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		r.health.record(loc.Pack, false)
		errs = append(errs, err)
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	return nil, fmt.Errorf("%s blob %s: none of its %d copies authenticates: %w", t, id.Short(), len(errs), errors.Join(errs...))
}

// copiesOf returns the locations of the blob's copies of type t.
func (r *Repo) copiesOf(t blob.Type, id blob.ID) ([]index.Location, error) {
	all := r.Index.Copies(id)
	if len(all) == 0 {
		return nil, fmt.Errorf("%s blob %s is not in the index", t, id.Short())
	}
	locs := slices.DeleteFunc(slices.Clone(all), func(l index.Location) bool { return l.Type != t })
	if len(locs) == 0 {
		return nil, fmt.Errorf("blob %s is indexed as %s, expected %s", id.Short(), all[0].Type, t)
	}
	return locs, nil
}

// packHealth remembers, for the life of a Repo, which packs copies were
// read from and whether they authenticated, so that readers try a copy in
// a pack known to be good first and one in a pack known to lie last. A
// pack that lies about many blobs then costs one failed read, not one per
// blob, unless it holds the only copies left to try. Its zero value is
// ready; memory grows by one entry per pack read.
type packHealth struct {
	mu    sync.Mutex
	packs map[blob.ID]health
}

// health says what reads from one pack have found.
type health struct{ good, bad bool }

// Ranks, in the order packHealth.order tries them.
const (
	rankGood    = iota // every copy read from the pack authenticated
	rankUnknown        // nothing read from the pack yet
	rankMixed          // some copies authenticated, some did not
	rankBad            // no copy read from the pack authenticated
)

// rank places a pack in the order above.
func (h health) rank(known bool) int {
	switch {
	case !known:
		return rankUnknown
	case h.bad && h.good:
		return rankMixed
	case h.bad:
		return rankBad
	}
	return rankGood
}

// record notes how a read from the pack went.
func (p *packHealth) record(pack blob.ID, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.packs == nil {
		p.packs = make(map[blob.ID]health)
	}
	h := p.packs[pack]
	h.good, h.bad = h.good || ok, h.bad || !ok
	p.packs[pack] = h
}

// order sorts locs, in place, by the rank of their packs, keeping the
// index's order among equals, and returns them.
func (p *packHealth) order(locs []index.Location) []index.Location {
	if len(locs) < 2 {
		return locs
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	slices.SortStableFunc(locs, func(a, b index.Location) int {
		return p.rankOf(a.Pack) - p.rankOf(b.Pack)
	})
	return locs
}

// rankOf returns the rank of a pack. The caller holds p.mu.
func (p *packHealth) rankOf(pack blob.ID) int {
	h, known := p.packs[pack]
	return h.rank(known)
}
