// Package hostile plays, for tests, a device that holds an account's keys
// but lies (issue 11): it uploads packs whose validly sealed headers list
// blobs the repository already holds, with other bytes in their place, and
// index objects that name them. Nothing outside tests uses it.
package hostile

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/pack"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store"
)

// Lie is what a lying pack holds in place of a blob.
type Lie int

const (
	// RandomBytes puts random bytes, as long as the genuine envelope, in
	// place of each blob: the envelope fails authentication.
	RandomBytes Lie = iota
	// OtherContent seals other plaintext under each blob's type and ID:
	// the envelope authenticates, but the plaintext does not match the ID.
	OtherContent
)

// Packs returns the listing of every pack in the repository's index
// objects, as they list it.
func Packs(ctx context.Context, r *repo.Repo) ([]index.Pack, error) {
	names, err := r.Names(ctx, store.Index)
	if err != nil {
		return nil, err
	}
	var out []index.Pack
	for _, name := range names {
		f, err := r.LoadIndexFile(ctx, name)
		if err != nil {
			return nil, err
		}
		out = append(out, f.Packs...)
	}
	return out, nil
}

// Listed returns every blob that the repository's index objects list,
// each ID once, in ascending order of ID.
func Listed(ctx context.Context, r *repo.Repo) ([]index.Blob, error) {
	packs, err := Packs(ctx, r)
	if err != nil {
		return nil, err
	}
	var out []index.Blob
	for _, p := range packs {
		out = append(out, p.Blobs...)
	}
	slices.SortFunc(out, func(a, b index.Blob) int { return compareID(a.ID, b.ID) })
	return slices.CompactFunc(out, func(a, b index.Blob) bool { return a.ID == b.ID }), nil
}

// LyingPack uploads a Pack listing every blob of Listed, each holding what
// lie says, and returns its listing.
func LyingPack(ctx context.Context, r *repo.Repo, lie Lie) (index.Pack, error) {
	listed, err := Listed(ctx, r)
	if err != nil {
		return index.Pack{}, err
	}
	return Pack(ctx, r, listed, lie)
}

// ShiftedIndex uploads an index object listing every pack of Packs with
// its blobs one byte later than they are, and returns that listing.
func ShiftedIndex(ctx context.Context, r *repo.Repo) ([]index.Pack, error) {
	packs, err := Packs(ctx, r)
	if err != nil {
		return nil, err
	}
	lies := make([]index.Pack, 0, len(packs))
	for _, p := range packs {
		s := index.Pack{ID: p.ID}
		for _, b := range p.Blobs {
			b.Offset++
			s.Blobs = append(s.Blobs, b)
		}
		lies = append(lies, s)
	}
	_, err = Index(ctx, r, lies...)
	return lies, err
}

func compareID(a, b blob.ID) int { return slices.Compare(a[:], b[:]) }

// Pack uploads a pack whose header, validly sealed with r's keys, lists
// the given blobs, each holding what lie says instead of its content, and
// an index object naming the pack as its header does. It returns the
// pack's listing.
func Pack(ctx context.Context, r *repo.Repo, blobs []index.Blob, lie Lie) (index.Pack, error) {
	b := pack.NewBuilder()
	for _, bl := range blobs {
		env, raw, err := fake(r, bl, lie)
		if err != nil {
			return index.Pack{}, err
		}
		b.Add(bl.Type, bl.ID, env, raw)
	}
	data, entries, err := b.Finish(r.Sealer())
	if err != nil {
		return index.Pack{}, err
	}
	p := index.Pack{ID: crypt.ContentID(data)}
	for _, e := range entries {
		p.Blobs = append(p.Blobs, index.Blob{Type: e.Type, ID: e.ID, Offset: e.Offset, Length: e.Length, RawLength: e.RawLength})
	}
	if err := store.PutBytes(ctx, r.Store(), store.Packs, p.ID.String(), data); err != nil {
		return index.Pack{}, err
	}
	_, err = Index(ctx, r, p)
	return p, err
}

// fake returns what a lying pack holds in place of bl, and the raw length
// to list for it.
func fake(r *repo.Repo, bl index.Blob, lie Lie) ([]byte, uint32, error) {
	if lie == RandomBytes {
		env := make([]byte, max(bl.Length, crypt.Overhead))
		_, err := rand.Read(env)
		return env, bl.RawLength, err
	}
	plain := []byte(fmt.Sprintf("not the content of %s", bl.ID))
	var env []byte
	_, err := r.SealBlob(bl.Type, bl.ID, plain, func(e []byte) error {
		env = slices.Clone(e)
		return nil
	})
	return env, uint32(len(plain)), err
}

// Index uploads an index object listing the packs as given, true or not,
// and returns its name.
func Index(ctx context.Context, r *repo.Repo, packs ...index.Pack) (blob.ID, error) {
	f := index.File{Packs: packs}
	return r.SaveObject(ctx, store.Index, crypt.ADIndex, f.Encode())
}
