package restorer

import (
	"container/list"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/coffer-backup/coffer/internal/fsmeta"
	"github.com/coffer-backup/coffer/internal/tree"
)

// maxOpen bounds the files a restore holds open while their blobs arrive;
// a file closed to make room is reopened, checked to be the one created
// (fsmeta.Root.ReopenFile), when its next blob comes.
const maxOpen = 64

// pending is a regular file planned by the walk: the pack phase creates
// it when its first blob arrives (so a file whose blobs come in one read
// is opened once) and finishes it with its last extent.
type pending struct {
	rel  string
	node *tree.Node
	left atomic.Int64 // extents not yet written (or failed)

	mu  sync.Mutex
	err error // the first error

	op      sync.Mutex // held while the file is created or reopened
	created bool       // guarded by op

	// Guarded by openFiles.mu:
	id  fsmeta.FileID // taken when the file is closed to make room
	f   *os.File
	el  *list.Element // in openFiles.idle while open and unused
	use int           // writers holding f
}

// fail records the file's first error.
func (p *pending) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		p.err = err
	}
}

// failed returns the file's first error.
func (p *pending) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// openFiles creates pending files and keeps at most about maxOpen of them
// open: files in use are never closed; idle ones are closed, least
// recently used first, when the count exceeds the bound.
type openFiles struct {
	root      *fsmeta.Root
	overwrite bool
	mu        sync.Mutex
	open      int
	idle      *list.List // of *pending, most recently used first
}

func newOpenFiles(root *fsmeta.Root, overwrite bool) *openFiles {
	return &openFiles{root: root, overwrite: overwrite, idle: list.New()}
}

// acquire returns p's file open for writing, creating it the first time
// and reopening it if it was closed since; release must follow.
func (o *openFiles) acquire(p *pending) (*os.File, error) {
	p.op.Lock()
	defer p.op.Unlock()
	if f := o.inUse(p); f != nil {
		return f, nil
	}
	f, err := o.openFile(p)
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	p.f, p.use = f, p.use+1
	o.open++
	o.trim()
	return f, nil
}

// inUse marks p's file used and returns it, if it is open.
func (o *openFiles) inUse(p *pending) *os.File {
	o.mu.Lock()
	defer o.mu.Unlock()
	if p.f == nil {
		return nil
	}
	if p.el != nil {
		o.idle.Remove(p.el)
		p.el = nil
	}
	p.use++
	return p.f
}

// openFile creates p's file, or reopens the one created. p.op is held.
func (o *openFiles) openFile(p *pending) (*os.File, error) {
	if p.created {
		return o.root.ReopenFile(p.rel, p.id)
	}
	f, err := o.root.CreateFile(p.rel, o.overwrite)
	if err == nil {
		p.created = true
	}
	return f, err
}

// release ends a use of p's file begun by acquire.
func (o *openFiles) release(p *pending) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if p.use--; p.use == 0 {
		p.el = o.idle.PushFront(p)
		o.trim()
	}
}

// take returns p's file, opened or created if need be, removing it from
// the set, for the caller to finish and close. No write may be under way.
func (o *openFiles) take(p *pending) (*os.File, error) {
	if _, err := o.acquire(p); err != nil {
		return nil, err
	}
	o.mu.Lock()
	p.use--
	o.mu.Unlock()
	return o.detach(p), nil
}

// detach removes p's file from the set and returns it, or nil if it is
// not open, for the caller to finish and close. No write may be under way.
func (o *openFiles) detach(p *pending) *os.File {
	o.mu.Lock()
	defer o.mu.Unlock()
	f := p.f
	if f == nil {
		return nil
	}
	if p.el != nil {
		o.idle.Remove(p.el)
		p.el = nil
	}
	p.f = nil
	o.open--
	return f
}

// trim closes idle files while more than maxOpen are open. o.mu is held.
func (o *openFiles) trim() {
	for o.open > maxOpen && o.idle.Len() > 0 {
		p := o.idle.Remove(o.idle.Back()).(*pending)
		p.el = nil
		var err error
		if p.id, err = fsmeta.StatFile(p.f); err != nil {
			p.fail(err) // it cannot be reopened
		}
		if err := p.f.Close(); err != nil {
			p.fail(fmt.Errorf("closing: %w", err))
		}
		p.f = nil
		o.open--
	}
}
