// Package checker verifies a repository's integrity: that every index,
// snapshot and tree authenticates and decodes, that everything a snapshot
// refers to is stored, and, on request, that every byte of every pack
// decrypts to the blob its ID names.
package checker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/snapshot"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/tree"
	"github.com/coffer-backup/coffer/internal/treewalk"
)

// Report is the outcome of a check. The repository is sound when Errors is
// empty; Notes describe harmless conditions (for example packs left by an
// interrupted backup, which the next backup reuses and prune removes).
// BadCopies lists every copy of a blob, listed by an index object or a pack
// header, that the check found not to authenticate; each is an error too.
type Report struct {
	Snapshots int            `json:"snapshots"`
	Trees     int            `json:"trees"`
	Packs     int            `json:"packs"`
	Blobs     int            `json:"blobs"`
	ReadPacks int            `json:"read_packs"`
	BadCopies []repo.BadCopy `json:"bad_copies"`
	Errors    []string       `json:"errors"`
	Notes     []string       `json:"notes"`
}

type checker struct {
	r     *repo.Repo
	rep   Report
	mu    sync.Mutex
	sizes map[blob.ID]int64
	// indexed holds, for every pack named by an index object, its blobs.
	indexed  map[blob.ID][]index.Blob
	planned  map[blob.ID]bool      // packs a pending prune plan deletes
	reported map[repo.BadCopy]bool // bad copies reported, without reason
	// good holds, after readPacks, every copy that authenticated; nil
	// when the check reads no data.
	good *index.Master
}

func (c *checker) errorf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rep.Errors = append(c.rep.Errors, fmt.Sprintf(format, args...))
}

func (c *checker) notef(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rep.Notes = append(c.rep.Notes, fmt.Sprintf(format, args...))
}

// badCopy reports a copy that does not authenticate, once however often
// it is found, as an error and in BadCopies.
func (c *checker) badCopy(bc repo.BadCopy) {
	key := bc
	key.Reason = ""
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reported[key] {
		return
	}
	c.reported[key] = true
	c.rep.BadCopies = append(c.rep.BadCopies, bc)
	c.rep.Errors = append(c.rep.Errors, "bad copy: "+bc.String())
}

// Check verifies the repository; with readData it also reads every pack
// and opens every copy of every blob that an index object or a pack header
// lists. It returns an error only when it cannot run at all; problems
// found are in the report.
func Check(ctx context.Context, r *repo.Repo, readData bool) (*Report, error) {
	c := &checker{r: r, indexed: make(map[blob.ID][]index.Blob), planned: make(map[blob.ID]bool), reported: make(map[repo.BadCopy]bool)}
	c.rep.BadCopies, c.rep.Errors, c.rep.Notes = []repo.BadCopy{}, []string{}, []string{} // JSON lists, never null
	sizes, err := r.PackSizes(ctx)
	if err != nil {
		return nil, err
	}
	c.sizes = sizes
	c.rep.Packs = len(sizes)
	if err := c.checkIndex(ctx); err != nil {
		return nil, err
	}
	if readData {
		c.readPacks(ctx)
	}
	if err := c.checkSnapshots(ctx); err != nil {
		return nil, err
	}
	return &c.rep, nil
}

func (c *checker) checkIndex(ctx context.Context) error {
	plans, err := c.r.PrunePlans(ctx)
	if err != nil {
		c.errorf("prune plans: %v", err)
	}
	for _, p := range plans {
		for _, id := range p.Packs {
			c.planned[id] = true
		}
	}
	if len(plans) > 0 {
		c.notef("%d prune plans are pending; the next prune completes them", len(plans))
	}
	files, err := c.loadIndexFiles(ctx)
	if err != nil {
		return err
	}
	superseded := make(map[string]bool)
	for _, f := range files {
		for _, id := range f.Supersedes {
			superseded[id.String()] = true
		}
	}
	// Readers load superseded objects too (docs/format.md §7.3): a device
	// with the keys may supersede true objects, so their entries count.
	for name, f := range files {
		for _, p := range f.Packs {
			c.checkIndexedPack(name, p, superseded[name])
		}
	}
	orphans := 0
	for id := range c.sizes {
		if _, ok := c.indexed[id]; !ok && !c.planned[id] {
			orphans++
		}
	}
	if orphans > 0 {
		c.notef("%d packs are not in any index (left by an interrupted backup): the next backup reuses them, prune removes what is unused", orphans)
	}
	for id, blobs := range c.indexed {
		c.r.Index.AddPack(index.Pack{ID: id, Blobs: blobs})
	}
	c.rep.Blobs = c.r.Index.Len()
	return nil
}

// loadIndexFiles reads every index object; those that fail are reported.
func (c *checker) loadIndexFiles(ctx context.Context) (map[string]*index.File, error) {
	names, err := c.r.Names(ctx, store.Index)
	if err != nil {
		return nil, err
	}
	files := make(map[string]*index.File, len(names))
	for _, name := range names {
		f, err := c.r.LoadIndexFile(ctx, name)
		if err != nil {
			c.errorf("index %s: %v", name, err)
			continue
		}
		files[name] = f
	}
	return files, nil
}

// checkIndexedPack records an index object's listing of a pack. A pack
// that is gone is an error unless a prune plan deletes it or the object is
// superseded (left by an interrupted prune); an entry beyond the pack's
// end is a bad copy and is left out, the rest of the listing kept.
func (c *checker) checkIndexedPack(indexName string, p index.Pack, superseded bool) {
	size, ok := c.sizes[p.ID]
	if !ok && (c.planned[p.ID] || superseded) {
		return // deleted by a prune that has not yet rewritten the index
	}
	if !ok {
		c.errorf("pack %s (in index %s) is missing", p.ID, indexName)
		return
	}
	for _, b := range p.Blobs {
		if int64(b.Offset)+int64(b.Length) > size {
			c.badCopy(repo.NewBadCopy(p.ID, b, fmt.Errorf("index %s places it beyond the pack's end (%d bytes)", indexName, size)))
			continue
		}
		c.indexed[p.ID] = append(c.indexed[p.ID], b)
	}
}

func (c *checker) checkSnapshots(ctx context.Context) error {
	names, err := c.r.Names(ctx, store.Snapshots)
	if err != nil {
		return err
	}
	seen := make(map[blob.ID]bool)
	walks := treewalk.NewSizes(c.r)
	for _, name := range names {
		id, err := blob.ParseID(name)
		if err != nil {
			c.errorf("snapshots/%s: unexpected object name", name)
			continue
		}
		sn, err := c.r.LoadSnapshot(ctx, id)
		if err != nil {
			c.errorf("snapshot %s: %v", id.Short(), err)
			continue
		}
		c.rep.Snapshots++
		c.checkTree(ctx, "snapshot "+id.Short(), sn.Tree, seen, 1)
		c.checkWalk(ctx, walks, sn)
	}
	c.rep.Trees = len(seen)
	return nil
}

// checkWalk reports a snapshot that readers refuse to walk: one whose
// shared trees make a walk exceed its limits or nest too deeply
// (docs/format.md §5.6). Trees that do not load are checkTree's to report.
func (c *checker) checkWalk(ctx context.Context, walks *treewalk.Sizes, sn snapshot.Stored) {
	_, err := treewalk.LimitsFor(sn).Measure(ctx, walks, "/", sn.Tree)
	if errors.Is(err, treewalk.ErrBudget) {
		c.errorf("%v", err)
	}
}

// checkTree verifies a tree, whose entries are at depth, and everything
// below it, each tree once and no deeper than treewalk.MaxDepth (checkWalk
// reports deeper trees).
func (c *checker) checkTree(ctx context.Context, where string, id blob.ID, seen map[blob.ID]bool, depth int) {
	if seen[id] || ctx.Err() != nil || depth > treewalk.MaxDepth {
		return
	}
	seen[id] = true
	b, err := c.readTree(ctx, id)
	if err != nil {
		c.errorf("%s: tree %s: %v", where, id.Short(), err)
		return
	}
	t, err := tree.Decode(b)
	if err != nil {
		c.errorf("%s: tree %s: %v", where, id.Short(), err)
		return
	}
	for _, n := range t.Nodes {
		for _, e := range n.Content {
			if !e.IsHole() {
				c.checkData(where, string(n.Name), e.ID)
			}
		}
		for _, sub := range n.Subtrees {
			c.checkTree(ctx, where, sub, seen, depth+1)
		}
	}
}

// readTree reads every copy of a tree the index lists, reports those that
// do not authenticate, and returns the plaintext of one that does
// (docs/format.md §7.3).
func (c *checker) readTree(ctx context.Context, id blob.ID) ([]byte, error) {
	var (
		plain []byte
		errs  []error
	)
	for _, loc := range c.r.Index.Copies(id) {
		if loc.Type != blob.Tree {
			continue
		}
		b, err := c.r.LoadCopy(ctx, blob.Tree, id, loc, nil)
		if err == nil {
			if plain == nil {
				plain = b
			}
			continue
		}
		if errors.Is(err, repo.ErrBadCopy) {
			c.badCopy(repo.NewBadCopy(loc.Pack, blobAt(id, loc), err))
		}
		errs = append(errs, err)
	}
	if plain != nil {
		return plain, nil
	}
	if len(errs) == 0 {
		// No copy of type tree: LoadBlob says so without reading.
		return c.r.LoadBlob(ctx, blob.Tree, id, nil)
	}
	return nil, fmt.Errorf("no copy authenticates: %w", errors.Join(errs...))
}

// checkData verifies that a data blob a file refers to is stored: that the
// index lists a copy or, once every pack was read, that a copy
// authenticated.
func (c *checker) checkData(where, file string, id blob.ID) {
	if c.good != nil {
		if !hasType(c.good.Copies(id), blob.Data) {
			c.errorf("%s: file %q: data blob %s has no authentic copy", where, file, id.Short())
		}
		return
	}
	if !hasType(c.r.Index.Copies(id), blob.Data) {
		c.errorf("%s: file %q: data blob %s is not stored", where, file, id.Short())
	}
}

func hasType(locs []index.Location, t blob.Type) bool {
	return slices.ContainsFunc(locs, func(l index.Location) bool { return l.Type == t })
}

// blobAt is the listing of blob id at loc.
func blobAt(id blob.ID, loc index.Location) index.Blob {
	return index.Blob{Type: loc.Type, ID: id, Offset: loc.Offset, Length: loc.Length, RawLength: loc.RawLength}
}

// readPacks downloads every pack, checks its hash and header, and opens
// every copy that its header or an index object lists (docs/format.md
// §7.3).
func (c *checker) readPacks(ctx context.Context) {
	c.good = index.NewMaster()
	for _, id := range slices.SortedFunc(maps.Keys(c.sizes), func(a, b blob.ID) int { return bytes.Compare(a[:], b[:]) }) {
		if ctx.Err() != nil {
			return
		}
		c.rep.ReadPacks++
		v, err := c.r.VerifyPack(ctx, id, c.sizes[id], c.indexed[id])
		if err != nil {
			c.errorf("pack %s: %v", id, err)
			continue
		}
		for _, p := range v.Problems {
			c.errorf("pack %s: %s", id, p)
		}
		for _, bc := range v.Bad {
			c.badCopy(bc)
		}
		c.good.AddPack(index.Pack{ID: id, Blobs: v.Good})
	}
}
