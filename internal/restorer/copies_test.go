//go:build linux

package restorer_test

import (
	"context"
	"path/filepath"
	"testing"

	liars "github.com/coffer-backup/coffer/internal/hostile"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/restorer"
	"github.com/coffer-backup/coffer/internal/testtree"
)

// TestLyingCopiesRestore: a pack that a device with the keys filled with
// false copies of every blob, listed before the true copies, makes the
// pack phase's reads fail; each blob is read again through the fallback,
// which tries every copy, and the restore is byte- and metadata-exact.
func TestLyingCopiesRestore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, lie := range map[string]liars.Lie{"random bytes": liars.RandomBytes, "other content": liars.OtherContent} {
		t.Run(name, func(t *testing.T) {
			b := backup(t, dupSpec())
			liar, err := liars.LyingPack(ctx, b.r.Reopen(t), lie)
			must(t, err)
			r := b.r.Reopen(t)
			r.Index = index.NewMaster()
			r.Index.AddPack(liar)
			must(t, r.LoadIndex(ctx))
			for _, bl := range liar.Blobs {
				if copies := r.Index.Copies(bl.ID); len(copies) < 2 || copies[0].Pack != liar.ID {
					t.Fatalf("blob %s: copies %v, want the false one first", bl.ID.Short(), copies)
				}
			}
			target := t.TempDir()
			must(t, restorer.New(r, restorer.Options{Target: target}).Run(ctx, b.root))
			testtree.Compare(t, b.src, filepath.Join(target, "src"))
		})
	}
}
