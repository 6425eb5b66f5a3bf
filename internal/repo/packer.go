package repo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"sync"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/pack"
	"github.com/coffer-backup/coffer/internal/store"
)

// Upload parallelism and index batching.
const (
	maxUploads      = 2  // default; see Repo.SetUploads
	indexEveryPacks = 16 // write an index object at least this often, so a crash loses little
)

// packer groups sealed blobs into packs, uploads full packs in the
// background, and records uploaded packs in index objects. Tree blobs go to
// tree packs of their own, data blobs to data packs (docs/format.md §6.1).
// Its memory is bounded: one pack of each kind being filled, the small
// blobs set aside to fill packs' padding (holdRoom), and at most maxUploads
// packs being uploaded, in buffers that are recycled.
type packer struct {
	r    *Repo
	mu   sync.Mutex
	cur  [2]*pack.Builder // by packKind
	held [2]heldBlobs     // by packKind

	sem      chan struct{}
	wg       sync.WaitGroup
	builders [2]chan *pack.Builder // idle builders by packKind, kept with their buffers

	errMu sync.Mutex
	err   error

	pendMu  sync.Mutex
	pending []index.Pack
}

func newPacker(r *Repo) *packer {
	p := &packer{r: r}
	p.setUploads(maxUploads)
	return p
}

// setUploads allows n uploads at once, and keeps as many idle builders
// of each kind as can be in use.
func (p *packer) setUploads(n int) {
	p.sem = make(chan struct{}, n)
	for k := range p.builders {
		p.builders[k] = make(chan *pack.Builder, 1+n)
	}
}

func (p *packer) setErr(err error) {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	if p.err == nil {
		p.err = err
	}
}

func (p *packer) firstErr() error {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return p.err
}

// add appends a sealed blob to the current pack, or sets a small one aside,
// and starts the pack's upload once it is full. It blocks while maxUploads
// packs are being uploaded, so at most 2+maxUploads packs are ever in
// memory.
func (p *packer) add(ctx context.Context, t blob.Type, id blob.ID, env []byte, rawLen uint32) error {
	if err := p.firstErr(); err != nil {
		return err
	}
	k := packKind(t)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held[k].hold(t, id, env, rawLen, pack.Target(t)) {
		return nil
	}
	b := p.builder(k)
	b.Add(t, id, env, rawLen)
	if b.Size() < pack.Target(t) {
		return nil
	}
	p.held[k].fill(b)
	p.cur[k] = nil
	return p.upload(ctx, b, k)
}

// builder returns the pack of kind k being filled, starting one if none is.
func (p *packer) builder(k int) *pack.Builder {
	if p.cur[k] == nil {
		p.cur[k] = p.newBuilder(k, builderRoom[k])
	}
	return p.cur[k]
}

// heldBlobs are small sealed blobs set aside to fill the padding of the
// next full pack of their kind (docs/format.md §6.1): a pack is padded to
// its Padmé length (§6.3), up to 3% of it, and blobs that fit in that
// padding make the store smaller at no cost to what it learns.
type heldBlobs struct {
	blobs []heldBlob
	bytes int
}

type heldBlob struct {
	t      blob.Type
	id     blob.ID
	env    []byte
	rawLen uint32
}

// The sizes of what is held, as fractions of the kind's target size: a
// blob of at most target/holdBlobDiv bytes is held while the held blobs
// total at most target/holdRoomDiv bytes (64 KiB and 1 MiB for data packs).
const (
	holdRoomDiv = 16
	holdBlobDiv = 256
)

// hold sets a copy of the blob aside and reports whether it did: only a
// blob small enough, while there is room.
func (h *heldBlobs) hold(t blob.Type, id blob.ID, env []byte, rawLen uint32, target int) bool {
	if len(env) > target/holdBlobDiv || h.bytes+len(env) > target/holdRoomDiv {
		return false
	}
	h.blobs = append(h.blobs, heldBlob{t, id, bytes.Clone(env), rawLen})
	h.bytes += len(env)
	return true
}

// fill moves into b every held blob that fits in its padding, so b's
// finished size does not change.
func (h *heldBlobs) fill(b *pack.Builder) {
	kept := h.blobs[:0]
	for _, x := range h.blobs {
		if len(x.env) <= b.Room() {
			b.Add(x.t, x.id, x.env, x.rawLen)
			h.bytes -= len(x.env)
			continue
		}
		kept = append(kept, x)
	}
	clear(h.blobs[len(kept):])
	h.blobs = kept
}

// drain moves every held blob into b.
func (h *heldBlobs) drain(b *pack.Builder) {
	for _, x := range h.blobs {
		b.Add(x.t, x.id, x.env, x.rawLen)
	}
	*h = heldBlobs{}
}

// builderRoom is, by packKind, the room a new builder starts with: for a
// data pack, its target size exactly, since the envelope that crosses it is
// held apart (pack.Builder.Grow), so that a data pack in memory has no
// slack; a tree pack, usually far smaller, grows as it fills.
var builderRoom = [2]int{pack.TargetSize, 0}

// packKind numbers the pack a blob of type t goes to: 1 for a tree pack,
// 0 for a data pack.
func packKind(t blob.Type) int {
	if t == blob.Tree {
		return 1
	}
	return 0
}

func (p *packer) upload(ctx context.Context, b *pack.Builder, k int) error {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer func() { <-p.sem }()
		if err := p.writePack(ctx, b, k); err != nil {
			p.setErr(err)
		}
	}()
	return nil
}

// newBuilder returns an idle builder of kind k, or a new one with room for
// capacity bytes. Builders of a kind are recycled within it, so a tree
// builder never grows to a data pack's size.
func (p *packer) newBuilder(k, capacity int) *pack.Builder {
	select {
	case b := <-p.builders[k]:
		return b
	default:
		b := pack.NewBuilder()
		if capacity > 0 {
			buf := make([]byte, capacity)
			adviseHugePages(buf)
			b.Use(buf)
		}
		return b
	}
}

// uploadPartial starts the upload of the packs being filled, with the
// blobs held for them.
func (p *packer) uploadPartial(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.cur {
		if len(p.held[k].blobs) > 0 {
			p.held[k].drain(p.builder(k))
		}
		b := p.cur[k]
		p.cur[k] = nil
		if b == nil || b.Count() == 0 {
			continue
		}
		if err := p.upload(ctx, b, k); err != nil {
			return err
		}
	}
	return nil
}

func (p *packer) writePack(ctx context.Context, b *pack.Builder, k int) error {
	defer func() {
		b.Reset()
		select {
		case p.builders[k] <- b:
		default:
		}
	}()
	parts, entries, err := b.FinishParts(p.r.sealer)
	if err != nil {
		return fmt.Errorf("finishing pack: %w", err)
	}
	h := sha256.New()
	for _, part := range parts {
		h.Write(part)
	}
	var id blob.ID
	h.Sum(id[:0])
	body := newPartsReader(parts)
	if entries[0].Type == blob.Tree {
		ctx = store.Keep(ctx) // a tree pack: a cache keeps it (docs/format.md §6.7)
	}
	if err := p.r.st.Put(ctx, store.Packs, id.String(), body, body.Size()); err != nil {
		return fmt.Errorf("uploading pack %s: %w", id.Short(), err)
	}
	ip := index.Pack{ID: id, Blobs: make([]index.Blob, len(entries))}
	for i, e := range entries {
		ip.Blobs[i] = index.Blob{Type: e.Type, ID: e.ID, Offset: e.Offset, Length: e.Length, RawLength: e.RawLength}
	}
	p.r.Index.AddPack(ip)
	p.addPending(ip)
	if fn := p.r.onUpload.Load(); fn != nil {
		(*fn)(ip)
	}
	p.pendMu.Lock()
	n := len(p.pending)
	p.pendMu.Unlock()
	if n >= indexEveryPacks {
		return p.writeIndex(ctx)
	}
	return nil
}

// addPending records packs that are in the store but in no index object;
// a pack already pending is not recorded twice.
func (p *packer) addPending(ps ...index.Pack) {
	p.pendMu.Lock()
	defer p.pendMu.Unlock()
	for _, np := range ps {
		if !slices.ContainsFunc(p.pending, func(q index.Pack) bool { return q.ID == np.ID }) {
			p.pending = append(p.pending, np)
		}
	}
}

func (p *packer) takePending() []index.Pack {
	p.pendMu.Lock()
	defer p.pendMu.Unlock()
	ps := p.pending
	p.pending = nil
	return ps
}

func (p *packer) writeIndex(ctx context.Context) error {
	ps := p.takePending()
	if len(ps) == 0 {
		return nil
	}
	if _, err := p.r.SaveIndex(ctx, &index.File{Packs: ps}); err != nil {
		p.addPending(ps...)
		return err
	}
	return nil
}

// flush uploads the partial packs, waits for all uploads and writes the
// index of everything uploaded.
func (p *packer) flush(ctx context.Context) error {
	if err := p.uploadPartial(ctx); err != nil {
		return err
	}
	p.wg.Wait()
	if err := p.firstErr(); err != nil {
		return err
	}
	return p.writeIndex(ctx)
}
