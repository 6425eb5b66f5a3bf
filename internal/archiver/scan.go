package archiver

import (
	"context"
	"io/fs"
	"path/filepath"
)

// Scan adds up the sizes of the regular files below paths into
// Stats.BytesTotal, so a progress display can estimate the time left. It is
// optional and may run concurrently with Run; errors are ignored, the total
// is only an estimate.
func (a *Archiver) Scan(ctx context.Context, paths []string) {
	for _, root := range paths {
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil || a.excluded(p) {
				if d != nil && d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() {
				if info, err := d.Info(); err == nil {
					a.Stats.BytesTotal.Add(info.Size())
				}
			}
			return nil
		})
	}
}
