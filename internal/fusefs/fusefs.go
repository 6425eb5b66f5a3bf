//go:build linux || darwin

// Package fusefs serves an account's snapshots as a read-only FUSE file
// system (coffer mount): snapshots/ID/ holds each snapshot's items with
// the metadata it recorded, and hosts/ and tags/ link to the snapshots of
// each host and tag (see layout).
//
// The mount reads lazily: a directory's tree blobs when it is listed or
// looked into, a file's blobs when a read reaches them, through the
// caller's loader (the windowed reader restores use) and two caches of
// bounded size, so memory does not grow with the snapshots' size. Before
// anything of a snapshot is listed, its trees are measured
// (treewalk.Measure) and a snapshot whose shared trees would expand past
// its budget is refused with EIO: the kernel walks no more of any
// snapshot than a restore of it would. Names are exposed as the bytes
// they are.
package fusefs

import (
	"context"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/snapshot"
	"github.com/coffer-backup/coffer/internal/tree"
	"github.com/coffer-backup/coffer/internal/treewalk"
)

// Loader loads a blob's plaintext, appending it to dst.
type Loader interface {
	LoadBlob(ctx context.Context, t blob.Type, id blob.ID, dst []byte) ([]byte, error)
}

// Options say what a file system serves.
type Options struct {
	// Snapshots are those the mount shows: the account's, read through
	// its device chain.
	Snapshots []snapshot.Stored
	// Blobs loads tree and data blobs, with the repository's index
	// loaded: a repo.WindowReader.
	Blobs Loader
	// Warn is told of snapshots left out of hosts/ or tags/, refused or
	// unreadable snapshots, and read errors (reported to the reader as
	// EIO); nil drops them.
	Warn func(error)
	// UID and GID own the directories the mount adds; their mode is 0555
	// and their time that of the newest snapshot.
	UID, GID uint32
	// CacheBytes bounds the decoded blobs kept for reads, and as much
	// again the decoded tree listings (default 64 MiB each).
	CacheBytes int64
}

// FS is a mounted or mountable file system of snapshots.
type FS struct {
	blobs    Loader
	data     *blobCache
	listings *lru[blob.ID, []*tree.Node]
	warn     func(error)
	uid, gid uint32
	mtime    time.Time
	top      *vdir
}

// defaultCache is CacheBytes' default.
const defaultCache = 64 << 20

// New returns the file system opts describe, reporting through Warn the
// hosts and tags that cannot be directory names.
func New(opts Options) *FS {
	size := opts.CacheBytes
	if size <= 0 {
		size = defaultCache
	}
	fsys := &FS{blobs: opts.Blobs, warn: opts.Warn, uid: opts.UID, gid: opts.GID,
		data:     &blobCache{l: opts.Blobs, lru: newLRU[blob.ID, []byte](size), slots: make(chan struct{}, loadsAhead)},
		listings: newLRU[blob.ID, []*tree.Node](size)}
	if fsys.warn == nil {
		fsys.warn = func(error) {}
	}
	for _, s := range opts.Snapshots {
		if s.Time.After(fsys.mtime) {
			fsys.mtime = s.Time
		}
	}
	top, errs := layout(opts.Snapshots)
	for _, err := range errs {
		fsys.warn(err)
	}
	fsys.top = top
	return fsys
}

// Root returns the node to mount.
func (fsys *FS) Root() fs.InodeEmbedder { return &vnode{fsys: fsys, d: fsys.top} }

// listing returns the entries of one tree blob, from the cache if it is
// there. Only snapshots that passed their measure are listed. The load
// is not cut short when the request that started it is interrupted:
// other requests may be waiting for it.
func (fsys *FS) listing(ctx context.Context, id blob.ID) ([]*tree.Node, error) {
	return fsys.listings.get(ctx, id, func() ([]*tree.Node, int64, error) {
		nodes, err := treewalk.Entries(context.WithoutCancel(ctx), fsys.blobs, []blob.ID{id})
		return nodes, listingWeight(nodes), err
	})
}

// listingWeight estimates the memory decoded entries take.
func listingWeight(nodes []*tree.Node) int64 {
	w := int64(64)
	for _, n := range nodes {
		w += 200 + int64(len(n.Name)+len(n.LinkTarget)+40*len(n.Content)+32*len(n.Subtrees))
		for _, x := range n.Xattrs {
			w += int64(len(x.Name) + len(x.Value) + 40)
		}
	}
	return w
}

// blobCache keeps recently read data blobs, decoded, so that the kernel's
// reads of a blob in pieces decrypt it once.
type blobCache struct {
	l     Loader
	lru   *lru[blob.ID, []byte]
	slots chan struct{} // one per load ahead running
}

// loadsAhead bounds the blobs loaded ahead of readers at once, and
// blobsAhead those one read asks for.
const (
	loadsAhead = 4
	blobsAhead = 2
)

// prefetch loads blobs into the cache in the background, so that a
// sequential reader finds the next blob decoded when it gets there. It
// starts no more loads than there are free slots; their errors are left
// for the reads to meet.
func (c *blobCache) prefetch(ids []blob.ID) {
	for _, id := range ids {
		select {
		case c.slots <- struct{}{}:
		default:
			return
		}
		go func() {
			defer func() { <-c.slots }()
			_, _ = c.LoadBlob(context.Background(), blob.Data, id, nil)
		}()
	}
}

// LoadBlob returns the plaintext of a data blob. With a nil dst it
// returns the cached slice itself, which the caller must not change
// (filedata.File.ReadAt passes nil and only reads); otherwise it appends
// a copy to dst. As for listings, an interrupted request does not cut
// short a load that others may wait for.
func (c *blobCache) LoadBlob(ctx context.Context, t blob.Type, id blob.ID, dst []byte) ([]byte, error) {
	if t != blob.Data {
		return c.l.LoadBlob(ctx, t, id, dst)
	}
	b, err := c.lru.get(ctx, id, func() ([]byte, int64, error) {
		b, err := c.l.LoadBlob(context.WithoutCancel(ctx), t, id, nil)
		return b, int64(len(b)) + 64, err
	})
	if err != nil || dst == nil {
		return b, err
	}
	return append(dst, b...), nil
}
