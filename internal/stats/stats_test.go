//go:build linux

package stats_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/archiver"
	"github.com/coffer-backup/coffer/internal/stats"
	"github.com/coffer-backup/coffer/internal/testtree"
	"github.com/coffer-backup/coffer/internal/testtree/testrepo"
	"github.com/coffer-backup/coffer/internal/tree"
	"github.com/coffer-backup/coffer/internal/treewalk"
)

func TestCompute(t *testing.T) {
	r := testrepo.New(t)
	src := filepath.Join(t.TempDir(), "src")
	testtree.Build(t, src, testtree.Spec{
		{Path: "a", Data: []byte("hello")}, {Path: "d/b", Data: []byte("world!")},
		{Path: "e1", Type: tree.Dir}, {Path: "e2", Type: tree.Dir}, // sharing the empty tree
	})
	r.Backup(t, archiver.Options{}, src)
	s, err := stats.Compute(context.Background(), r.Repo)
	if err != nil {
		t.Fatal(err)
	}
	if s.Snapshots != 1 || s.LatestFiles != 2 || s.LatestBytes != 11 || s.Packs == 0 || s.Blobs == 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestComputeRefusesDoubling makes the latest snapshot one of 41 small
// trees whose walk would visit 2^42 items: stats must fail at once.
func TestComputeRefusesDoubling(t *testing.T) {
	r := testrepo.New(t)
	sn := r.DoublingSnapshot(t, 40)
	start := time.Now()
	_, err := stats.Compute(context.Background(), r.Reopen(t))
	want := "snapshot " + sn.ID.Short() + ": tree walk exceeds budget of 1048576 entries: the snapshot may be hostile"
	if !errors.Is(err, treewalk.ErrBudget) || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("refusing took %v", d)
	}
}
