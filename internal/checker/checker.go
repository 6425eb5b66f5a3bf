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
	"sync"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/pack"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/snapshot"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/tree"
	"github.com/coffer-backup/coffer/internal/treewalk"
)

// Report is the outcome of a check. The repository is sound when Errors is
// empty; Notes describe harmless conditions (for example packs left by an
// interrupted backup, which the next backup reuses and prune removes).
type Report struct {
	Snapshots int      `json:"snapshots"`
	Trees     int      `json:"trees"`
	Packs     int      `json:"packs"`
	Blobs     int      `json:"blobs"`
	ReadPacks int      `json:"read_packs"`
	Errors    []string `json:"errors"`
	Notes     []string `json:"notes"`
}

type checker struct {
	r     *repo.Repo
	rep   Report
	mu    sync.Mutex
	sizes map[blob.ID]int64
	// indexed holds, for every pack named by an index object, its blobs.
	indexed map[blob.ID][]index.Blob
	planned map[blob.ID]bool // packs a pending prune plan deletes
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

// Check verifies the repository; with readData it also reads every pack.
// It returns an error only when it cannot run at all; problems found are in
// the report.
func Check(ctx context.Context, r *repo.Repo, readData bool) (*Report, error) {
	c := &checker{r: r, indexed: make(map[blob.ID][]index.Blob), planned: make(map[blob.ID]bool)}
	c.rep.Errors, c.rep.Notes = []string{}, []string{} // JSON lists, never null
	sizes, err := r.PackSizes(ctx)
	if err != nil {
		return nil, err
	}
	c.sizes = sizes
	c.rep.Packs = len(sizes)
	if err := c.checkIndex(ctx); err != nil {
		return nil, err
	}
	if err := c.checkSnapshots(ctx); err != nil {
		return nil, err
	}
	if readData {
		c.readPacks(ctx)
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
	for name, f := range files {
		if superseded[name] {
			continue // replaced by a prune that was interrupted before deleting it
		}
		for _, p := range f.Packs {
			c.checkIndexedPack(name, p)
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

func (c *checker) checkIndexedPack(indexName string, p index.Pack) {
	size, ok := c.sizes[p.ID]
	if !ok && c.planned[p.ID] {
		return // deleted by a prune that has not yet rewritten the index
	}
	if !ok {
		c.errorf("pack %s (in index %s) is missing", p.ID, indexName)
		return
	}
	for _, b := range p.Blobs {
		if int64(b.Offset)+int64(b.Length) > size {
			c.errorf("pack %s: index %s places blob %s beyond the pack's end", p.ID, indexName, b.ID.Short())
			return
		}
	}
	c.indexed[p.ID] = append(c.indexed[p.ID], p.Blobs...)
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
	b, err := c.r.LoadBlob(ctx, blob.Tree, id, nil)
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
			if e.IsHole() {
				continue
			}
			loc, ok := c.r.Index.Lookup(e.ID)
			if !ok || loc.Type != blob.Data {
				c.errorf("%s: file %q: data blob %s is not stored", where, n.Name, e.ID.Short())
			}
		}
		for _, sub := range n.Subtrees {
			c.checkTree(ctx, where, sub, seen, depth+1)
		}
	}
}

// readPacks downloads every pack and checks its hash, header and blobs.
func (c *checker) readPacks(ctx context.Context) {
	for id, size := range c.sizes {
		if ctx.Err() != nil {
			return
		}
		c.rep.ReadPacks++
		data, err := c.r.ReadPackRange(ctx, id, 0, size)
		if err != nil {
			c.errorf("pack %s: %v", id, err)
			continue
		}
		if crypt.ContentID(data) != id {
			c.errorf("pack %s: content does not match its name", id)
			continue
		}
		entries, err := pack.ReadHeader(bytes.NewReader(data), size, c.r.Opener())
		if err != nil {
			c.errorf("pack %s: %v", id, err)
			continue
		}
		for _, e := range entries {
			env := data[e.Offset : e.Offset+e.Length]
			if _, err := c.r.OpenBlob(nil, e.Type, e.ID, env, int(e.RawLength)); err != nil {
				c.errorf("pack %s: %v", id, err)
			}
		}
	}
}
