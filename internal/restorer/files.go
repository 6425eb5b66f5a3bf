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

// pending is a regular file created by the walk whose data extents the
// pack phase writes; the write of its last extent finishes it.
type pending struct {
	rel  string
	node *tree.Node
	id   fsmeta.FileID
	left atomic.Int64 // extents not yet written (or failed)

	mu  sync.Mutex
	err error // the first write error
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

// openFiles keeps at most about maxOpen pending files open: files in use
// are never closed; idle ones are closed, least recently used first,
// when the count exceeds the bound.
type openFiles struct {
	root *fsmeta.Root
	mu   sync.Mutex
	open int
	idle *list.List // of *pending, most recently used first
}

func newOpenFiles(root *fsmeta.Root) *openFiles {
	return &openFiles{root: root, idle: list.New()}
}

// adopt takes p's freshly created file, open, as one of the open files.
func (o *openFiles) adopt(p *pending, f *os.File) {
	o.mu.Lock()
	defer o.mu.Unlock()
	p.f = f
	o.open++
	p.el = o.idle.PushFront(p)
	o.trim()
}

// acquire returns p's file open for writing, reopening it if it was
// closed; release must follow.
func (o *openFiles) acquire(p *pending) (*os.File, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if p.f == nil {
		f, err := o.root.ReopenFile(p.rel, p.id)
		if err != nil {
			return nil, err
		}
		p.f = f
		o.open++
	} else if p.el != nil {
		o.idle.Remove(p.el)
		p.el = nil
	}
	p.use++
	o.trim()
	return p.f, nil
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

// take removes p's file from the set, open (reopened if need be), for
// the caller to finish and close.
func (o *openFiles) take(p *pending) (*os.File, error) {
	f, err := o.acquire(p)
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	p.use--
	p.f = nil
	o.open--
	return f, nil
}

// trim closes idle files while more than maxOpen are open. o.mu is held.
func (o *openFiles) trim() {
	for o.open > maxOpen && o.idle.Len() > 0 {
		p := o.idle.Remove(o.idle.Back()).(*pending)
		p.el = nil
		if err := p.f.Close(); err != nil {
			p.fail(fmt.Errorf("closing: %w", err))
		}
		p.f = nil
		o.open--
	}
}
