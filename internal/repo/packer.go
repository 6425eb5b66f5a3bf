package repo

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/pack"
	"github.com/coffer-backup/coffer/internal/store"
)

// Upload parallelism and index batching.
const (
	maxUploads      = 2
	indexEveryPacks = 16 // write an index object at least this often, so a crash loses little
)

// packer groups sealed blobs into packs, uploads full packs in the
// background, and records uploaded packs in index objects.
type packer struct {
	r   *Repo
	mu  sync.Mutex
	cur *pack.Builder

	sem chan struct{}
	wg  sync.WaitGroup

	errMu sync.Mutex
	err   error

	pendMu  sync.Mutex
	pending []index.Pack
}

func newPacker(r *Repo) *packer {
	return &packer{r: r, sem: make(chan struct{}, maxUploads)}
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

// add appends a sealed blob to the current pack, starting its upload once
// the pack is full. It blocks while too many uploads are in flight.
func (p *packer) add(ctx context.Context, t blob.Type, id blob.ID, env []byte, rawLen uint32) error {
	if err := p.firstErr(); err != nil {
		return err
	}
	p.mu.Lock()
	if p.cur == nil {
		p.cur = pack.NewBuilder()
	}
	p.cur.Add(t, id, env, rawLen)
	var full *pack.Builder
	if p.cur.Size() >= pack.TargetSize {
		full, p.cur = p.cur, nil
	}
	p.mu.Unlock()
	if full != nil {
		return p.upload(ctx, full)
	}
	return nil
}

func (p *packer) upload(ctx context.Context, b *pack.Builder) error {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer func() { <-p.sem }()
		if err := p.writePack(ctx, b); err != nil {
			p.setErr(err)
		}
	}()
	return nil
}

func (p *packer) writePack(ctx context.Context, b *pack.Builder) error {
	data, entries, err := b.Finish(p.r.sealer)
	if err != nil {
		return fmt.Errorf("finishing pack: %w", err)
	}
	id := crypt.ContentID(data)
	err = p.r.st.Put(ctx, store.Packs, id.String(), bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fmt.Errorf("uploading pack %s: %w", id.Short(), err)
	}
	ip := index.Pack{ID: id, Blobs: make([]index.Blob, len(entries))}
	for i, e := range entries {
		ip.Blobs[i] = index.Blob{Type: e.Type, ID: e.ID, Offset: e.Offset, Length: e.Length, RawLength: e.RawLength}
	}
	p.r.Index.AddPack(ip)
	p.pendMu.Lock()
	p.pending = append(p.pending, ip)
	n := len(p.pending)
	p.pendMu.Unlock()
	if n >= indexEveryPacks {
		return p.writeIndex(ctx)
	}
	return nil
}

// addPending records packs that are in the store but in no index object.
func (p *packer) addPending(ps ...index.Pack) {
	p.pendMu.Lock()
	defer p.pendMu.Unlock()
	p.pending = append(p.pending, ps...)
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
	f := index.File{Packs: ps}
	if _, err := p.r.SaveObject(ctx, store.Index, crypt.ADIndex, f.Encode()); err != nil {
		p.addPending(ps...)
		return fmt.Errorf("writing index: %w", err)
	}
	return nil
}

// flush uploads the partial pack, waits for all uploads and writes the
// index of everything uploaded.
func (p *packer) flush(ctx context.Context) error {
	p.mu.Lock()
	b := p.cur
	p.cur = nil
	p.mu.Unlock()
	if b != nil && b.Count() > 0 {
		if err := p.upload(ctx, b); err != nil {
			return err
		}
	}
	p.wg.Wait()
	if err := p.firstErr(); err != nil {
		return err
	}
	return p.writeIndex(ctx)
}
