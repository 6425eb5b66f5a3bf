package restorer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/fsmeta"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/tree"
)

// startFile plans the data extents of the regular file rel, which the
// pack phase creates when its first blob arrives; a file without any is
// created and finished at once. It returns only the error of a failed
// batch.
func (rs *Restorer) startFile(ctx context.Context, rel string, n *tree.Node) error {
	p := &pending{rel: rel, node: n}
	var off int64
	for _, e := range n.Content {
		if !e.IsHole() {
			p.left.Add(1)
			rs.plan.add(e.ID, target{p, off, e.Length}, rs.locate)
		}
		off += int64(e.Length)
	}
	if p.left.Load() == 0 {
		rs.finishFile(p)
		return nil
	}
	if rs.plan.targets >= maxBatch {
		return rs.flush(ctx, nil)
	}
	return nil
}

// locate returns where the pack phase reads a data blob: the first copy
// the index lists (index.Master.Copies) as data in a pack the store holds,
// within its size. A blob without one, or whose copy fails there, is read
// through rs.loadBlob, which tries every copy.
func (rs *Restorer) locate(id blob.ID) (index.Location, bool) {
	for _, loc := range rs.r.Index.Copies(id) {
		size, known := rs.sizes[loc.Pack]
		if loc.Type == blob.Data && known && int64(loc.Offset)+int64(loc.Length) <= size {
			return loc, true
		}
	}
	return index.Location{}, false
}

// flush runs the pack phase for the planned batch: its reads and the
// fallback's blobs go to opts.Workers workers. With abort not nil,
// nothing is read: every file of the batch fails with abort and is
// removed. Every file of the batch is finished when it returns.
func (rs *Restorer) flush(ctx context.Context, abort error) error {
	reads, rest := rs.plan.reads()
	rs.plan = newPlan()
	jobs := make(chan func(*buffers))
	var wg sync.WaitGroup
	for range rs.opts.Workers {
		wg.Go(func() {
			var b buffers
			for job := range jobs {
				job(&b)
			}
		})
	}
	for _, rd := range reads {
		jobs <- func(b *buffers) { rs.readRange(ctx, rd, b, abort) }
	}
	for _, n := range rest {
		jobs <- func(b *buffers) { rs.fallback(ctx, n, b, abort) }
	}
	close(jobs)
	wg.Wait()
	if abort == nil {
		return ctx.Err()
	}
	return abort
}

// buffers are a worker's: an envelope as read, a blob's plaintext, and a
// reader that takes a range in large reads (most blobs are small).
type buffers struct {
	env, plain []byte
	br         *bufio.Reader
}

// readBuffer is how much of a range a worker reads at once.
const readBuffer = 1 << 20

// reader returns b's buffered reader, reading from r.
func (b *buffers) reader(r io.Reader) *bufio.Reader {
	if b.br == nil {
		b.br = bufio.NewReaderSize(r, readBuffer)
	} else {
		b.br.Reset(r)
	}
	return b.br
}

// readRange reads one range of a pack as a stream and delivers its blobs
// in order. A blob that does not authenticate there, and every blob after
// a failure of the stream, goes through the fallback.
func (rs *Restorer) readRange(ctx context.Context, rd read, b *buffers, abort error) {
	if abort == nil {
		abort = ctx.Err()
	}
	if abort != nil {
		for _, n := range rd.needs {
			rs.deliver(n, nil, abort)
		}
		return
	}
	rc, err := rs.r.OpenPackRange(ctx, rd.pack, rd.start, rd.end-rd.start)
	if err != nil {
		rs.fallbackAll(ctx, rd.needs, b)
		return
	}
	defer rc.Close()
	br := b.reader(rc)
	pos := rd.start
	for i, n := range rd.needs {
		if err := readEnvelope(br, &pos, n.loc, b); err != nil {
			rs.fallbackAll(ctx, rd.needs[i:], b)
			return
		}
		b.plain, err = rs.r.OpenBlob(b.plain[:0], blob.Data, n.id, b.env, int(n.loc.RawLength))
		if err != nil {
			rs.fallback(ctx, n, b, nil)
			continue
		}
		rs.deliver(n, b.plain, nil)
	}
}

// readEnvelope skips the stream, at *pos, to the envelope at loc and
// reads it into b.env.
func readEnvelope(r io.Reader, pos *int64, loc index.Location, b *buffers) error {
	if _, err := io.CopyN(io.Discard, r, int64(loc.Offset)-*pos); err != nil {
		return err
	}
	b.env = slices.Grow(b.env[:0], int(loc.Length))[:loc.Length]
	if _, err := io.ReadFull(r, b.env); err != nil {
		return err
	}
	*pos = int64(loc.Offset) + int64(loc.Length)
	return nil
}

// fallbackAll reads needs one by one through the fallback.
func (rs *Restorer) fallbackAll(ctx context.Context, needs []*need, b *buffers) {
	for _, n := range needs {
		rs.fallback(ctx, n, b, nil)
	}
}

// fallback reads one blob on its own, through rs.loadBlob, and delivers
// it, or its error.
func (rs *Restorer) fallback(ctx context.Context, n *need, b *buffers, abort error) {
	if abort == nil {
		abort = ctx.Err()
	}
	if abort != nil {
		rs.deliver(n, nil, abort)
		return
	}
	var err error
	b.plain, err = rs.loadBlob(ctx, blob.Data, n.id, b.plain[:0])
	rs.deliver(n, b.plain, err)
}

// deliver writes a blob's plaintext, or its error, to every target.
func (rs *Restorer) deliver(n *need, plain []byte, err error) {
	for _, t := range n.targets {
		rs.write(n.id, t, plain, err)
	}
}

// write puts plain at t, or records err against t's file, and finishes
// the file if that was its last extent.
func (rs *Restorer) write(id blob.ID, t target, plain []byte, err error) {
	p := t.file
	if err == nil && uint64(len(plain)) != t.length {
		err = fmt.Errorf("blob %s has %d bytes, the tree says %d", id.Short(), len(plain), t.length)
	}
	if err == nil {
		err = rs.writeAt(p, plain, t.off)
	}
	if err != nil {
		p.fail(err)
	}
	if p.left.Add(-1) == 0 {
		rs.finishFile(p)
	}
}

// writeAt writes plain at off in p's file, unless the file already failed.
func (rs *Restorer) writeAt(p *pending, plain []byte, off int64) error {
	p.mu.Lock()
	failed := p.err != nil
	p.mu.Unlock()
	if failed {
		return nil
	}
	f, err := rs.files.acquire(p)
	if err != nil {
		return err
	}
	defer rs.files.release(p)
	if _, err := f.WriteAt(plain, off); err != nil {
		return err
	}
	rs.Stats.Bytes.Add(int64(len(plain)))
	return nil
}

// finishFile sets the size and the metadata of a file whose extents are
// all written, through its descriptor, and closes it. A file that failed
// is removed if this restore created it, so no incomplete file is left
// under the real name.
func (rs *Restorer) finishFile(p *pending) {
	err := p.failed()
	var f *os.File
	if err == nil {
		f, err = rs.files.take(p)
	} else {
		f = rs.files.detach(p)
	}
	if err == nil && endsInHole(p.node) {
		err = f.Truncate(fileSize(p.node))
	}
	if err == nil {
		var ws []error
		ws, err = rs.root.ApplyFile(f, p.rel, p.node, fsmeta.ApplyOptions{})
		rs.addWarnings(ws)
	}
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		rs.discard(p, err)
		return
	}
	rs.Stats.Files.Add(1)
	rs.note(p.rel, Restored)
	if p.node.Links > 1 {
		rs.mu.Lock()
		rs.created[p.rel] = true
		rs.mu.Unlock()
	}
}

// discard records err for p and removes p's file if this restore created
// it: what stood in its way is left alone, and not counted as an error if
// OverwriteNever keeps it.
func (rs *Restorer) discard(p *pending, err error) {
	p.op.Lock()
	created := p.created
	p.op.Unlock()
	if !created && rs.kept(p.rel, err) {
		return
	}
	if created {
		if rerr := rs.root.Remove(p.rel); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = fmt.Errorf("%w (and the incomplete file could not be removed: %v)", err, rerr)
		}
	}
	rs.addErr(fmt.Errorf("%s: %w", p.rel, err))
}

// endsInHole reports whether a file's size is more than its writes make
// it: its last extent is a hole. (Otherwise writing its last extent set
// the size of the fresh file.)
func endsInHole(n *tree.Node) bool {
	return len(n.Content) > 0 && n.Content[len(n.Content)-1].IsHole()
}

// fileSize is the end of a file's last extent (as int64, wrapping as the
// offsets of its extents do, so an impossible size fails at truncate).
func fileSize(n *tree.Node) int64 {
	var off int64
	for _, e := range n.Content {
		off += int64(e.Length)
	}
	return off
}
