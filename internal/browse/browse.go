// Package browse is what the web app (docs/web.md) reads of an account:
// its snapshots, the entries of a folder, a file's content streamed, and
// the devices of its chain. It reads through an opened repository
// (repo.Repo, opened by a device or read-only by repo.OpenRead) with the
// readers every command uses (account.ReadHistory, treewalk, filedata,
// the windowed pack reader), so it authenticates everything as they do
// and decodes nothing itself. It does no I/O of its own and builds for
// GOOS=js, where the web app's WebAssembly runs it.
package browse

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coffer-backup/coffer/internal/account"
	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/snapshot"
	"github.com/coffer-backup/coffer/internal/tree"
	"github.com/coffer-backup/coffer/internal/treewalk"
)

// Reading packs in aligned windows, as restores and dump do
// (docs/format.md §10): memory is bounded by window × windows.
const (
	readWindow  = 4 << 20
	readWindows = 8
)

// MaxEntries bounds the entries List returns for one folder; a larger
// folder's listing is cut and marked Truncated.
const MaxEntries = 20000

// Errors callers (the HTTP API) map to statuses.
var (
	ErrNotFound = errors.New("not found")
	ErrNotFile  = errors.New("not a regular file")
	ErrNotDir   = errors.New("not a folder")
)

// Browser reads one account's repository. It is safe for concurrent use.
type Browser struct {
	r     *repo.Repo
	chain *account.Chain
	warn  func(error)

	mu      sync.Mutex
	snaps   []snapshot.Stored // nil until first read
	indexed bool
	blobs   *repo.WindowReader
}

// New returns a Browser over r, whose account's verified chain is c. warn,
// if not nil, learns of damaged or unrecorded snapshots left out of the
// listing.
func New(r *repo.Repo, c *account.Chain, warn func(error)) *Browser {
	if warn == nil {
		warn = func(error) {}
	}
	return &Browser{r: r, chain: c, warn: warn}
}

// Snapshot is one snapshot as the web app lists it.
type Snapshot struct {
	ID         string    `json:"id"`
	Short      string    `json:"short_id"`
	Time       time.Time `json:"time"`
	Hostname   string    `json:"hostname"`
	Paths      []string  `json:"paths"`
	Tags       []string  `json:"tags,omitempty"`
	Device     string    `json:"device"`
	DeviceName string    `json:"device_name"`
	AppendOnly bool      `json:"append_only,omitempty"`
	Files      uint64    `json:"files,omitempty"`
	Bytes      uint64    `json:"bytes,omitempty"`
}

func snapshotOf(s snapshot.Stored) Snapshot {
	out := Snapshot{ID: s.ID.String(), Short: s.ID.Short(), Time: s.Time, Hostname: s.Hostname,
		Paths: s.Paths, Tags: s.Tags, Device: s.Author.Device, DeviceName: s.Author.Name, AppendOnly: s.Author.AppendOnly}
	if s.Summary != nil {
		out.Files, out.Bytes = s.Summary.TotalFiles, s.Summary.TotalBytes
	}
	return out
}

// Snapshots lists the snapshots the chain records and the store holds,
// newest first (docs/format.md §8.4). A recorded snapshot the store lacks
// is an error, as for every command.
func (b *Browser) Snapshots(ctx context.Context) ([]Snapshot, error) {
	snaps, err := b.history(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Snapshot, len(snaps))
	for i, s := range snaps {
		out[len(snaps)-1-i] = snapshotOf(s)
	}
	return out, nil
}

// history reads the account's snapshots once, oldest first.
func (b *Browser) history(ctx context.Context) ([]snapshot.Stored, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.snaps != nil {
		return b.snaps, nil
	}
	h, err := account.ReadHistory(ctx, b.r, b.chain)
	if err != nil {
		return nil, err
	}
	if err := h.MissingError(b.chain); err != nil {
		return nil, err
	}
	for _, d := range h.Damaged {
		b.warn(fmt.Errorf("skipping a damaged snapshot: %w", d))
	}
	b.snaps = append(make([]snapshot.Stored, 0, len(h.Snapshots)), h.Snapshots...)
	return b.snaps, nil
}

// find resolves a snapshot ID or prefix, or "latest".
func (b *Browser) find(ctx context.Context, ref string) (snapshot.Stored, error) {
	snaps, err := b.history(ctx)
	if err != nil {
		return snapshot.Stored{}, err
	}
	s, err := snapshot.Find(snaps, ref)
	if errors.Is(err, snapshot.ErrNotFound) {
		err = fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return s, err
}

// loader returns the windowed blob reader, loading the index first.
func (b *Browser) loader(ctx context.Context) (*repo.WindowReader, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.blobs != nil {
		return b.blobs, nil
	}
	if !b.indexed {
		if err := b.r.LoadIndex(ctx); err != nil {
			return nil, err
		}
		b.indexed = true
	}
	w, err := b.r.NewWindowReader(ctx, readWindow, readWindows)
	if err != nil {
		return nil, err
	}
	b.blobs = w
	return w, nil
}

// lookup returns the node at p in snapshot ref, with the loader.
func (b *Browser) lookup(ctx context.Context, ref, p string) (*tree.Node, *repo.WindowReader, error) {
	s, err := b.find(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	l, err := b.loader(ctx)
	if err != nil {
		return nil, nil, err
	}
	n, err := treewalk.Lookup(ctx, l, s.Tree, CleanPath(p))
	if errors.Is(err, treewalk.ErrNotFound) {
		err = fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return n, l, err
}

// CleanPath returns p as an absolute, clean, '/'-separated path.
func CleanPath(p string) string { return path.Clean("/" + strings.TrimSpace(p)) }

// Entry is one item of a folder.
type Entry struct {
	Name  string    `json:"name"`
	Type  string    `json:"type"`
	Size  uint64    `json:"size"`
	Mode  string    `json:"mode"`
	MTime time.Time `json:"mtime"`
	Link  string    `json:"link_target,omitempty"`
}

// Listing is a folder's entries, folders first, then by name.
type Listing struct {
	Snapshot  string  `json:"snapshot"`
	Path      string  `json:"path"`
	Entries   []Entry `json:"entries"`
	Truncated bool    `json:"truncated,omitempty"`
}

// List returns the entries of the folder at p in snapshot ref: at most
// MaxEntries, reading the folder's tree blobs only until it has them.
func (b *Browser) List(ctx context.Context, ref, p string) (*Listing, error) {
	n, l, err := b.lookup(ctx, ref, p)
	if err != nil {
		return nil, err
	}
	if n.Type != tree.Dir {
		return nil, fmt.Errorf("%s: %w", CleanPath(p), ErrNotDir)
	}
	s, _ := b.find(ctx, ref)
	out := &Listing{Snapshot: s.ID.String(), Path: CleanPath(p), Entries: []Entry{}}
	for _, id := range n.Subtrees {
		nodes, err := treewalk.Entries(ctx, l, []blob.ID{id})
		if err != nil {
			return nil, err
		}
		for _, c := range nodes {
			out.Entries = append(out.Entries, entryOf(c))
		}
		if len(out.Entries) >= MaxEntries {
			out.Entries, out.Truncated = out.Entries[:MaxEntries], len(out.Entries) > MaxEntries || id != n.Subtrees[len(n.Subtrees)-1]
			break
		}
	}
	sortEntries(out.Entries)
	return out, nil
}

func entryOf(n *tree.Node) Entry {
	return Entry{Name: string(n.Name), Type: n.Type.String(), Size: n.Size, Mode: fmt.Sprintf("%04o", n.Mode),
		MTime: time.Unix(0, n.MTime).UTC(), Link: string(n.LinkTarget)}
}

func sortEntries(es []Entry) {
	slices.SortStableFunc(es, func(a, b Entry) int {
		if (a.Type == "dir") != (b.Type == "dir") {
			if a.Type == "dir" {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
}
