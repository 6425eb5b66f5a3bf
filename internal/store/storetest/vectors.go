package storetest

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/store"
)

// Vector is one line of the layout's path vectors
// (internal/store/local/testdata/paths.txt), which every backend that uses
// the local store's layout checks itself against.
type Vector struct {
	Kind store.Kind
	Name string
	Path string // "invalid" if kind/name must be rejected
}

// ReadVectors reads the path vectors in file, failing t on a malformed
// line or a file of fewer than 10 vectors.
func ReadVectors(t testing.TB, file string) []Vector {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vs []Vector
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if len(fields) != 3 {
			t.Fatalf("bad vector line %q", sc.Text())
		}
		vs = append(vs, Vector{store.Kind(fields[0]), fields[1], fields[2]})
	}
	if err := sc.Err(); err != nil || len(vs) < 10 {
		t.Fatalf("read %d vectors from %s: %v", len(vs), file, err)
	}
	return vs
}
