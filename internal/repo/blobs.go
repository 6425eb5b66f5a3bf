package repo

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/compress"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/pack"
)

// bufPool holds buffers for framed and sealed blobs. They start empty and
// grow to what they hold, so a miss for a small blob (a tree, say) costs a
// small allocation, not a megabyte: under the race detector sync.Pool drops
// a quarter of what it is given, and every such miss counted.
var bufPool = sync.Pool{New: func() any { return new([]byte) }}

// SaveBlob stores a blob unless the repository already holds it or another
// goroutine is storing it. It returns the blob's ID and whether this call
// stored it. The blob is durable only after Flush.
func (r *Repo) SaveBlob(ctx context.Context, t blob.Type, plaintext []byte) (blob.ID, bool, error) {
	if len(plaintext) > compress.MaxRaw {
		return blob.ID{}, false, fmt.Errorf("blob of %d bytes exceeds the %d-byte limit", len(plaintext), compress.MaxRaw)
	}
	id := r.hasher.Sum(t, plaintext)
	if !r.Index.Reserve(id) {
		return id, false, nil
	}
	_, err := r.SealBlob(t, id, plaintext, func(env []byte) error {
		return r.packer.add(ctx, t, id, env, uint32(len(plaintext)))
	})
	if err != nil {
		r.Index.Release(id)
		return id, false, err
	}
	return id, true, nil
}

// SaveBlobCopy stores a new copy of the blob even if the index lists one,
// and returns its ID. Prune uses it for a blob it must keep whose listed
// copies outside the packs it deletes it has not authenticated
// (docs/format.md §8.3). The copy is durable only after Flush.
func (r *Repo) SaveBlobCopy(ctx context.Context, t blob.Type, plaintext []byte) (blob.ID, error) {
	if len(plaintext) > compress.MaxRaw {
		return blob.ID{}, fmt.Errorf("blob of %d bytes exceeds the %d-byte limit", len(plaintext), compress.MaxRaw)
	}
	id := r.hasher.Sum(t, plaintext)
	_, err := r.SealBlob(t, id, plaintext, func(env []byte) error {
		return r.packer.add(ctx, t, id, env, uint32(len(plaintext)))
	})
	return id, err
}

// SealBlob compresses and seals a blob and passes the envelope, valid only
// during the call, to use. It returns the envelope's length.
func (r *Repo) SealBlob(t blob.Type, id blob.ID, plaintext []byte, use func([]byte) error) (int, error) {
	if err := r.writable(); err != nil {
		return 0, err
	}
	fb := bufPool.Get().(*[]byte)
	defer bufPool.Put(fb)
	// The blob is framed after room for the envelope's header and sealed
	// in place: one buffer, and no copy of the framed blob.
	framed, err := compress.EncodeLevel(append((*fb)[:0], make([]byte, crypt.HeaderSize)...), plaintext, r.compression)
	if err != nil {
		return 0, err
	}
	env, err := r.sealer.SealInPlace(slices.Grow(framed, crypt.TagSize), pack.BlobAD(t, id))
	if err != nil {
		return 0, err
	}
	*fb = env
	return len(env), use(env)
}

// OpenBlob authenticates and decodes a blob envelope read from a pack,
// appending its plaintext to dst. It checks the plaintext against the ID
// (docs/format.md §3.0), so a validly encrypted envelope of other content
// sealed under this ID is refused too. Its errors wrap ErrBadCopy.
func (r *Repo) OpenBlob(dst []byte, t blob.Type, id blob.ID, env []byte, rawLen int) ([]byte, error) {
	fb := bufPool.Get().(*[]byte)
	defer bufPool.Put(fb)
	framed, err := r.opener.Open((*fb)[:0], env, pack.BlobAD(t, id))
	if err != nil {
		return nil, badCopyError{fmt.Errorf("%s blob %s: %w", t, id.Short(), err)}
	}
	*fb = framed
	n := len(dst)
	out, err := compress.Decode(dst, framed, rawLen)
	if err != nil {
		return nil, badCopyError{fmt.Errorf("%s blob %s: %w", t, id.Short(), err)}
	}
	if r.hasher.Sum(t, out[n:]) != id {
		return nil, badCopyError{fmt.Errorf("%s blob %s: plaintext does not match its ID", t, id.Short())}
	}
	return out, nil
}

// LoadBlob reads one blob through the index, appending its plaintext to
// dst. It tries every copy the index lists, packs known to hold good
// copies first and packs known to lie last, until one authenticates
// (docs/format.md §7.3); it fails only if none does.
func (r *Repo) LoadBlob(ctx context.Context, t blob.Type, id blob.ID, dst []byte) ([]byte, error) {
	return r.loadCopies(ctx, t, id, dst, r.LoadCopy)
}

// maxEnvelope bounds one blob's stored size.
const maxEnvelope = compress.MaxRaw + 1 + crypt.Overhead

// ReadPackRange reads length bytes of a pack at offset.
func (r *Repo) ReadPackRange(ctx context.Context, packID blob.ID, offset, length int64) ([]byte, error) {
	if length < 0 || length > 2*maxEnvelope+(64<<20) {
		return nil, fmt.Errorf("pack %s: refusing a read of %d bytes", packID.Short(), length)
	}
	rc, err := r.st.Get(ctx, "packs", packID.String(), offset, length)
	if err != nil {
		return nil, fmt.Errorf("reading pack %s: %w", packID.Short(), err)
	}
	defer rc.Close()
	buf := make([]byte, length)
	if _, err := io.ReadFull(rc, buf); err != nil {
		return nil, fmt.Errorf("reading pack %s at %d+%d: %w", packID.Short(), offset, length, err)
	}
	return buf, nil
}

// Flush uploads every blob saved so far and records them in index objects.
func (r *Repo) Flush(ctx context.Context) error { return r.packer.flush(ctx) }

// SetCompression sets how hard blobs saved from now on are compressed
// (default compress.Auto). It must be called before the first blob is
// saved.
func (r *Repo) SetCompression(l compress.Level) { r.compression = l }

// SetUploads sets how many packs may be uploaded at once (default 2). Each
// costs a pack's worth of memory; the commands keep the default for every
// store, a server's included. Through coffer serve on loopback one upload
// at a time stalled a first backup of the SCALE=4 corpus for about 0.36 s
// in all, its workers waiting for the upload slot while the server, on the
// same two cores, took in the previous pack; with two the backup took
// 2.35-2.50 s against 2.44-2.82 s, at the same peak (about 138 MiB: the
// soft memory limit, not the packs in flight, sets it). It must be called
// before the first blob is saved.
func (r *Repo) SetUploads(n int) {
	if n >= 1 {
		r.packer.setUploads(n)
	}
}
