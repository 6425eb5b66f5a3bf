// Package stats summarises what a repository holds: its snapshots, the
// size of the latest one, and how much the store keeps for it after
// deduplication and compression.
package stats

import (
	"context"
	"math"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/treewalk"
)

// Stats describes a repository.
type Stats struct {
	Snapshots   int   `json:"snapshots"`
	LatestFiles int64 `json:"latest_files"`
	LatestBytes int64 `json:"latest_bytes"`
	Blobs       int64 `json:"blobs"`
	RawBytes    int64 `json:"raw_bytes"`    // unique blob plaintext, before compression
	StoredBytes int64 `json:"stored_bytes"` // pack bytes in the store
	Packs       int   `json:"packs"`
}

// Compute gathers the statistics of r.
func Compute(ctx context.Context, r *repo.Repo) (*Stats, error) {
	var s Stats
	snaps, _, err := r.ReadableSnapshots(ctx) // damaged ones are check's business
	if err != nil {
		return nil, err
	}
	s.Snapshots = len(snaps)
	if err := r.LoadIndex(ctx); err != nil {
		return nil, err
	}
	if len(snaps) > 0 {
		// Measuring counts every file as a walk would, loading each
		// distinct tree once, within the snapshot's limits.
		sz, err := treewalk.Measure(ctx, r, treewalk.RootOf(snaps[len(snaps)-1]))
		if err != nil {
			return nil, err
		}
		s.LatestFiles, s.LatestBytes = clampInt64(sz.Files), clampInt64(sz.FileBytes)
	}
	sizes, err := r.PackSizes(ctx)
	if err != nil {
		return nil, err
	}
	s.Packs = len(sizes)
	for _, n := range sizes {
		s.StoredBytes += n
	}
	return &s, countBlobs(ctx, r, sizes, &s)
}

// clampInt64 converts v, saturating at the largest int64.
func clampInt64(v uint64) int64 { return int64(min(v, math.MaxInt64)) }

// countBlobs adds up the unique blobs of the packs that exist.
func countBlobs(ctx context.Context, r *repo.Repo, sizes map[blob.ID]int64, s *Stats) error {
	names, err := r.Names(ctx, store.Index)
	if err != nil {
		return err
	}
	seen := make(map[blob.ID]bool)
	for _, name := range names {
		f, err := r.LoadIndexFile(ctx, name)
		if err != nil {
			return err
		}
		for _, p := range f.Packs {
			if _, ok := sizes[p.ID]; !ok {
				continue
			}
			for _, b := range p.Blobs {
				if !seen[b.ID] {
					seen[b.ID] = true
					s.Blobs++
					s.RawBytes += int64(b.RawLength)
				}
			}
		}
	}
	return nil
}
