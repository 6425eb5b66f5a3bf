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
// has no node yet: the worker captures it from the open file, and leaves
// the file out if it is no longer a regular file or the filter leaves it
// out by its size or file system (scope).
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
		var kept bool
		ch, kept, err = a.saveFile(ctx, ch, &j)
		if err != nil || !kept {
			if err != nil && ctx.Err() == nil {
				a.warn(err)
			}
			a.childDone(ctx, j.dir, j.slot, nil)
			continue
		}
		if j.changed {
			a.Stats.FilesChanged.Add(1)
			a.note(j.path, FileChanged)
		} else {
			a.Stats.FilesNew.Add(1)
			a.note(j.path, FileNew)
		}
		a.childDone(ctx, j.dir, j.slot, j.node)
	}
}

// saveFile reads a file and stores its content. Read errors are returned
// (the file is left out, with a warning); store errors stop the backup.
// kept is false for a file the filter leaves out (fileJob).
func (a *Archiver) saveFile(ctx context.Context, ch *chunker.Chunker, j *fileJob) (_ *chunker.Chunker, kept bool, err error) {
	f, dense, kept, err := a.open(j)
	if err != nil || !kept {
		return ch, false, err
	}
	defer f.Close()
	ranges, err := dataRanges(f, int64(j.node.Size), dense)
	if err != nil {
		return ch, false, fmt.Errorf("%s: %w", termsafe.Name(j.path), err)
	}
	content, ch, err := a.saveRanges(ctx, ch, f, ranges, int64(j.node.Size), j.path)
	if err != nil {
		return ch, false, err
	}
	// The file may have changed size while we read it: record what we read.
	var total uint64
	for _, e := range content {
		total += e.Length
	}
	j.node.Size, j.node.Content = total, content
	return ch, true, nil
}

// open opens j's file and releases its hold on j.from. A job to capture
// gets its node from the open file, with the warnings of capturing it;
// kept is false, with no error, for one the filter leaves out by its size
// or file system. dense is as openedFile's.
func (a *Archiver) open(j *fileJob) (f sourceFile, dense, kept bool, err error) {
	defer j.from.release()
	if !j.capture {
		f, dense, err = openRegular(j.from, j.name, j.path, j.node)
		return f, dense, err == nil, err
	}
	f, err = openAt(j.from, j.name, j.path)
	if err != nil {
		return nil, false, false, fmt.Errorf("%s: %w", termsafe.Name(j.path), err)
	}
	n, allocated, warnings, err := fsmeta.CaptureFile(f)
	switch {
	case err != nil:
		err = fmt.Errorf("%s: %w", termsafe.Name(j.path), err)
	case n.Type != tree.File:
		err = fmt.Errorf("%s: changed while being backed up; left out", termsafe.Name(j.path))
	case a.filtered(j.scope, n):
	default:
		warnAll(j.path, warnings, a.warn)
		j.node = n
		return f, allocated >= int64(n.Size), true, nil
	}
	f.Close()
	return nil, false, false, err
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
