package repo

import (
	"context"
	"fmt"
	"io"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/pack"
)

// OpenPackRange streams length bytes of a pack from offset, for a reader
// that takes many blobs of one range in order (a pack-ordered restore):
// memory stays one blob, however long the range. Nothing it yields is
// authenticated: pass each blob's envelope to OpenBlob. The caller closes
// the stream; a stream that ends early fails with io.ErrUnexpectedEOF.
func (r *Repo) OpenPackRange(ctx context.Context, packID blob.ID, offset, length int64) (io.ReadCloser, error) {
	if offset < 0 || length <= 0 || offset+length > pack.MaxSize {
		return nil, fmt.Errorf("pack %s: refusing a read of %d bytes at %d", packID.Short(), length, offset)
	}
	rc, err := r.st.Get(ctx, "packs", packID.String(), offset, length)
	if err != nil {
		return nil, fmt.Errorf("reading pack %s: %w", packID.Short(), err)
	}
	return rc, nil
}
