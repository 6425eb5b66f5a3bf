package meta

import (
	"errors"
	"fmt"
	"testing"

	xtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/coffer-backup/coffer/internal/tlog"
)

// memHashes is a log's stored hashes in memory.
type memHashes []tlog.Hash

func (m memHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		out[i] = m[x]
	}
	return out, nil
}

// noTable fails every read: the frontier alone must serve appends.
type noTable struct{}

func (noTable) ReadHashes([]int64) ([]tlog.Hash, error) { return nil, errors.New("read the table") }

// TestFrontier appends 1000 leaves through the frontier alone and checks
// every stored hash against x/mod's.
func TestFrontier(t *testing.T) {
	var want memHashes
	var frontier [][]byte
	for n := range int64(1000) {
		leaf := fmt.Appendf(nil, "leaf %d", n)
		got, err := xtlog.StoredHashes(n, leaf, frontierReader{n, frontier, noTable{}})
		if err != nil {
			t.Fatalf("leaf %d: %v", n, err)
		}
		hs, err := xtlog.StoredHashes(n, leaf, want)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(hs) {
			t.Fatalf("leaf %d: stored hashes differ from x/mod's", n)
		}
		want = append(want, hs...)
		frontier = nextFrontier(frontier, got)
	}
}
