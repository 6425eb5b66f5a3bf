package browse

import (
	"context"
	"sync"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/filedata"
	"github.com/coffer-backup/coffer/internal/tree"
)

// readAhead is how many of a file's data blobs are loaded ahead of the one
// being written: reading, decrypting and checking them overlaps with
// writing (and, in a browser, WebCrypto works off the WebAssembly's one
// thread). Memory is bounded by readAhead blobs.
const readAhead = 4

// ahead is a filedata.Loader for one sequential pass over a file's data
// blobs (File.WriteTo): each load starts the loads of the next readAhead
// blobs. A load out of that order (ReadAt) goes straight to l.
type ahead struct {
	ctx  context.Context
	l    filedata.Loader
	ids  []blob.ID // the file's data blobs, in order
	mu   sync.Mutex
	next int             // index in ids of the load expected next
	busy map[int]*loaded // started, not yet taken
}

type loaded struct {
	done chan struct{}
	b    []byte
	err  error
}

func newAhead(ctx context.Context, l filedata.Loader, n *tree.Node) *ahead {
	a := &ahead{ctx: ctx, l: l, busy: map[int]*loaded{}}
	for _, e := range n.Content {
		if !e.IsHole() {
			a.ids = append(a.ids, e.ID)
		}
	}
	return a
}

// LoadBlob returns data blob id, loaded ahead if it is the next one.
func (a *ahead) LoadBlob(ctx context.Context, t blob.Type, id blob.ID, dst []byte) ([]byte, error) {
	a.mu.Lock()
	i := a.next
	if t != blob.Data || i >= len(a.ids) || a.ids[i] != id {
		a.mu.Unlock()
		return a.l.LoadBlob(ctx, t, id, dst)
	}
	a.next++
	for j := i; j < min(i+1+readAhead, len(a.ids)); j++ {
		a.start(j)
	}
	ld := a.busy[i]
	delete(a.busy, i)
	a.mu.Unlock()
	select {
	case <-ld.done:
	case <-ctx.Done():
		return dst, ctx.Err()
	}
	if ld.err != nil {
		return dst, ld.err
	}
	return append(dst, ld.b...), nil
}

// start loads blob j on a goroutine of its own unless started; a.mu is
// held.
func (a *ahead) start(j int) {
	if _, ok := a.busy[j]; ok || j < a.next-1 {
		return
	}
	ld := &loaded{done: make(chan struct{})}
	a.busy[j] = ld
	go func() {
		defer close(ld.done)
		ld.b, ld.err = a.l.LoadBlob(a.ctx, blob.Data, a.ids[j], nil)
	}()
}
