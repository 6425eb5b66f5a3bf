package archiver

import (
	"context"
	"fmt"
	"io"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/chunker"
	"github.com/coffer-backup/coffer/internal/fsmeta"
	"github.com/coffer-backup/coffer/internal/termsafe"
	"github.com/coffer-backup/coffer/internal/tree"
)

// sourceFile is a file open for reading: an os.File, or on Unix a
// rawFile.
type sourceFile interface {
	io.ReaderAt
	io.Closer
	Fd() uintptr
	Name() string
}

// fileJob is a file to read: the entry name of the directory from (nil: by
// its path), which holds it open for the job (sharedDir). A job to capture
// has no node yet: the worker captures it from the open file (capture),
// leaves it out if the filter does by its size or file system (scope), and
// records an entry that is not a regular file as what it is (stated).
type fileJob struct {
	path    string
	name    string
	from    *sharedDir
	node    *tree.Node
	scope   *scope // the scope of a job to capture
	dir     *dirState
	slot    int
	capture bool // the directory listed it as a regular file, new since the parent snapshot
	changed bool // the parent snapshot had this file, with other metadata
}

func (a *Archiver) fileWorker(ctx context.Context) {
	defer a.wg.Done()
	var ch *chunker.Chunker
	for j := range a.jobs {
		if ctx.Err() != nil {
			j.from.release()
			a.childDone(ctx, j.dir, j.slot, nil)
			continue
		}
		var err error
		ch, err = a.saveFile(ctx, ch, &j)
		a.jobDone(ctx, &j, err)
	}
}

// jobDone records j's entry once saveFile is done with it: left out, with
// a warning for err; a regular file read; or an entry listed as a regular
// file that is another kind, as it is.
func (a *Archiver) jobDone(ctx context.Context, j *fileJob, err error) {
	switch {
	case err != nil:
		if ctx.Err() == nil {
			a.warn(err)
		}
		a.childDone(ctx, j.dir, j.slot, nil)
		return
	case j.node == nil || j.node.Type != tree.File:
	case j.changed:
		a.Stats.FilesChanged.Add(1)
		a.note(j.path, FileChanged)
	default:
		a.Stats.FilesNew.Add(1)
		a.note(j.path, FileNew)
	}
	a.childDone(ctx, j.dir, j.slot, j.node)
}

// saveFile reads a file and stores its content. Read errors are returned
// (the file is left out, with a warning); store errors stop the backup.
// A job to capture may find nothing to read (open).
func (a *Archiver) saveFile(ctx context.Context, ch *chunker.Chunker, j *fileJob) (*chunker.Chunker, error) {
	f, dense, err := a.open(j)
	if err != nil || f == nil {
		return ch, err
	}
	defer f.Close()
	ranges, err := dataRanges(f, int64(j.node.Size), dense)
	if err != nil {
		return ch, fmt.Errorf("%s: %w", termsafe.Name(j.path), err)
	}
	content, ch, err := a.saveRanges(ctx, ch, f, ranges, int64(j.node.Size), j.path)
	if err != nil {
		return ch, err
	}
	// The file may have changed size while we read it: record what we read.
	var total uint64
	for _, e := range content {
		total += e.Length
	}
	j.node.Size, j.node.Content = total, content
	return ch, nil
}

// open opens j's file and releases its hold on j.from; dense is as
// openedFile's. A job to capture gets its node from what it opens
// (capture), and f is nil when there is nothing to read.
func (a *Archiver) open(j *fileJob) (f sourceFile, dense bool, err error) {
	defer j.from.release()
	if j.capture {
		return a.capture(j)
	}
	return openRegular(j.from, j.name, j.path, j.node)
}

// capture opens the entry of a job to capture and, if it is a regular file
// the filter keeps, sets j.node to its node captured from the open file
// and returns the file. Otherwise it returns no file, and j.node is nil
// for an entry left out or the node to record of one that is not a
// regular file (stated).
func (a *Archiver) capture(j *fileJob) (sourceFile, bool, error) {
	f, err := openAt(j.from, j.name, j.path)
	if err != nil {
		return nil, false, a.stated(j, err)
	}
	n, allocated, warnings, err := fsmeta.CaptureFile(f)
	switch {
	case err != nil:
		f.Close()
		return nil, false, fmt.Errorf("%s: %w", termsafe.Name(j.path), err)
	case n.Type != tree.File:
		f.Close()
		return nil, false, a.stated(j, nil)
	case a.filtered(j.scope, n):
		f.Close()
		return nil, false, nil
	}
	warnAll(j.path, warnings, a.warn)
	j.node = n
	return f, allocated >= int64(n.Size), nil
}

// stated captures by its name (fsmeta.Dir.StatSince), as the walker would
// have, the entry of a job to capture that could not be opened (openErr)
// or was not a regular file when it was: the directory listed it as one,
// but it was replaced since or the file system misreports it. j.node is
// set to the node to record, or nil if the entry is left out: by the
// filter, silently, as the walker would have; a regular file that cannot
// be opened, with openErr; a directory, which only a walker descends
// into, as changed during the backup.
func (a *Archiver) stated(j *fileJob, openErr error) error {
	n, skipped, err := j.from.StatSince(j.name, nil)
	switch {
	case err != nil && openErr != nil:
		return fmt.Errorf("%s: %w", termsafe.Name(j.path), openErr)
	case err != nil:
		return fmt.Errorf("%s: %w", termsafe.Name(j.path), err)
	case a.filtered(j.scope, n):
		return nil
	case n.Type == tree.File && openErr != nil:
		return fmt.Errorf("%s: %w", termsafe.Name(j.path), openErr)
	case n.Type == tree.File || n.Type == tree.Dir:
		return fmt.Errorf("%s: changed while being backed up; left out", termsafe.Name(j.path))
	}
	warnAll(j.path, skipped, a.warn)
	j.node = n
	return nil
}

// dataRanges returns the data ranges of the first size bytes of f: for a
// dense file (openedFile.dense), all of them, without asking the file
// system; otherwise fsmeta.DataRanges.
func dataRanges(f sourceFile, size int64, dense bool) ([]fsmeta.Range, error) {
	switch {
	case !dense:
		return fsmeta.DataRanges(f, size)
	case size == 0:
		return nil, nil
	default:
		return []fsmeta.Range{{Off: 0, Len: size}}, nil
	}
}

// saveRanges stores the data ranges of a file of the given size, with the
// holes between them as hole extents. It stops early if the file shrinks.
func (a *Archiver) saveRanges(ctx context.Context, ch *chunker.Chunker, f sourceFile, ranges []fsmeta.Range, size int64, path string) ([]tree.Extent, *chunker.Chunker, error) {
	var (
		content []tree.Extent
		pos     int64
		err     error
	)
	for _, rg := range ranges {
		if rg.Off > pos {
			content = a.hole(content, rg.Off-pos)
		}
		sr := io.NewSectionReader(f, rg.Off, rg.Len)
		if ch == nil {
			if ch, err = chunker.New(sr, a.r.Gear(), a.r.ChunkerParams()); err != nil {
				return nil, nil, err
			}
		} else {
			ch.Reset(sr)
		}
		var n int64
		if content, n, err = a.saveChunks(ctx, ch, content, path); err != nil {
			return nil, ch, err
		}
		if pos = rg.Off + n; n < rg.Len {
			return content, ch, nil // the file shrank while we read it: keep what we read
		}
	}
	if size > pos {
		content = a.hole(content, size-pos) // a trailing hole
	}
	return content, ch, nil
}

// hole appends a hole extent of n bytes, which are counted as skipped so
// that progress reaches the size the scan announced.
func (a *Archiver) hole(content []tree.Extent, n int64) []tree.Extent {
	a.Stats.BytesHoles.Add(n)
	return append(content, tree.Extent{Length: uint64(n)})
}

// saveChunks stores the chunks of one data range and returns the content
// with their extents appended, and the number of bytes read.
func (a *Archiver) saveChunks(ctx context.Context, ch *chunker.Chunker, content []tree.Extent, path string) ([]tree.Extent, int64, error) {
	var n int64
	for {
		c, err := ch.Next()
		if err == io.EOF {
			return content, n, nil
		}
		if err != nil {
			return content, n, fmt.Errorf("%s: %w", termsafe.Name(path), err)
		}
		n += int64(len(c))
		a.Stats.BytesRead.Add(int64(len(c)))
		id, added, err := a.r.SaveBlob(ctx, blob.Data, c)
		if err != nil {
			a.fail(err)
			return content, n, err
		}
		if added {
			a.Stats.BlobsAdded.Add(1)
			a.Stats.BytesAdded.Add(int64(len(c)))
		}
		content = append(content, tree.Extent{ID: id, Length: uint64(len(c))})
	}
}

// openRegular opens a file, the entry name of from (nil: path), for
// reading without following a symlink, blocking on a fifo or updating its
// access time, and checks that it is still the regular file that was
// listed. It also reports whether the file is dense (openedFile.dense).
func openRegular(from *sharedDir, name, path string, n *tree.Node) (sourceFile, bool, error) {
	f, err := openAt(from, name, path)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", termsafe.Name(path), err)
	}
	of, err := statOpened(f)
	if err != nil || !of.regular || of.ino != n.Inode {
		f.Close()
		return nil, false, fmt.Errorf("%s: changed while being backed up; left out", termsafe.Name(path))
	}
	return f, of.dense, nil
}
