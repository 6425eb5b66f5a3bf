package restorer

import (
	"context"
	"fmt"
	"os"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/tree"
)

func (rs *Restorer) fileWorker(ctx context.Context) {
	defer rs.wg.Done()
	var buf []byte
	for j := range rs.jobs {
		var err error
		buf, err = rs.restoreFile(ctx, j.rel, j.node, buf)
		rs.apply(j.rel, j.node, err)
		if err == nil {
			rs.Stats.Files.Add(1)
			if j.node.Links > 1 {
				rs.mu.Lock()
				rs.created[j.rel] = true
				rs.mu.Unlock()
			}
		}
	}
}

// restoreFile writes a file's data extents at their offsets and sets its
// size, so holes stay holes. A file it cannot complete is removed, so no
// truncated file is left under the real name.
func (rs *Restorer) restoreFile(ctx context.Context, rel string, n *tree.Node, buf []byte) ([]byte, error) {
	f, err := rs.root.CreateFile(rel, rs.replace())
	if err != nil {
		return buf, err
	}
	buf, err = rs.writeContent(ctx, f, n, buf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if rerr := rs.root.Remove(rel); rerr != nil {
			err = fmt.Errorf("%w (and the incomplete file could not be removed: %v)", err, rerr)
		}
	}
	return buf, err
}

func (rs *Restorer) writeContent(ctx context.Context, f *os.File, n *tree.Node, buf []byte) ([]byte, error) {
	var err error
	var off int64
	for _, e := range n.Content {
		if !e.IsHole() {
			buf, err = rs.blobs.LoadBlob(ctx, blob.Data, e.ID, buf[:0])
			if err == nil && uint64(len(buf)) != e.Length {
				err = fmt.Errorf("blob %s has %d bytes, the tree says %d", e.ID.Short(), len(buf), e.Length)
			}
			if err == nil {
				_, err = f.WriteAt(buf, off)
			}
			if err != nil {
				return buf, err
			}
			rs.Stats.Bytes.Add(int64(len(buf)))
		}
		off += int64(e.Length)
	}
	return buf, f.Truncate(off)
}
