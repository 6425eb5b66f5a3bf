package browse

import (
	"context"
	"fmt"
	"io"
	"path"

	"github.com/coffer-backup/coffer/internal/filedata"
	"github.com/coffer-backup/coffer/internal/tree"
)

// File is a regular file's content, streamed: it holds at most one blob
// at a time besides the windowed reader's windows. Copy it with io.Copy
// (which uses WriteTo, without the pipe) or Read it; Close it either way.
type File struct {
	Name  string // the last element of the path, as recorded (untrusted bytes: escape before display)
	Size  uint64
	MTime int64 // nanoseconds since the Unix epoch

	ctx    context.Context
	cancel context.CancelFunc
	f      *filedata.File
	pr     *io.PipeReader // started by the first Read
}

// Open returns the content of the regular file at p in snapshot ref. The
// file's blobs are read, and authenticated, only as the content is read.
func (b *Browser) Open(ctx context.Context, ref, p string) (*File, error) {
	n, l, err := b.lookup(ctx, ref, p)
	if err != nil {
		return nil, err
	}
	if n.Type != tree.File {
		return nil, fmt.Errorf("%s: %w", CleanPath(p), ErrNotFile)
	}
	fctx, cancel := context.WithCancel(ctx)
	f, err := filedata.Open(newAhead(fctx, l, n), n)
	if err != nil {
		cancel()
		return nil, err
	}
	return &File{Name: path.Base(CleanPath(p)), Size: f.Size(), MTime: n.MTime, ctx: fctx, cancel: cancel, f: f}, nil
}

// WriteTo writes the whole content to w, one blob at a time, loading the
// next few ahead (readAhead). It fails if
// any blob does not authenticate, after writing the bytes before it.
func (f *File) WriteTo(w io.Writer) (int64, error) {
	return f.f.WriteTo(f.ctx, w)
}

// Read reads the content in order through a pipe fed by WriteTo.
func (f *File) Read(p []byte) (int, error) {
	if f.pr == nil {
		pr, pw := io.Pipe()
		f.pr = pr
		go func() {
			_, err := f.f.WriteTo(f.ctx, pw)
			pw.CloseWithError(err)
		}()
	}
	return f.pr.Read(p)
}

// Close stops any read under way.
func (f *File) Close() error {
	f.cancel()
	if f.pr != nil {
		f.pr.CloseWithError(context.Canceled)
	}
	return nil
}

// Device is a current device of the account's chain.
type Device struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Fingerprint string `json:"fingerprint"`
	Rights      string `json:"rights"`
	Added       string `json:"added"`
}

// Devices lists the current devices of the chain the Browser was given.
func (b *Browser) Devices(context.Context) []Device {
	var out []Device
	for _, m := range b.chain.Devices() {
		out = append(out, Device{ID: m.Public.ID, Name: m.Public.Name, Fingerprint: m.Public.Fingerprint(),
			Rights: m.Rights.String(), Added: m.AddedTime.UTC().Format("2006-01-02T15:04:05Z")})
	}
	return out
}
