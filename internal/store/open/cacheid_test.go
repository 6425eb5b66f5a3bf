package open

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/home"
)

// TestCacheIDVectors checks testdata/cache-ids.txt, computed by an
// independent implementation: each location as given canonicalises to
// the canonical location listed, which names the local cache directory
// with the ID listed (docs/format.md §12; cmd/coffer does the same two
// steps); and docs/format.md §12 lists every canonical location and ID.
func TestCacheIDVectors(t *testing.T) {
	b, err := os.ReadFile("testdata/cache-ids.txt")
	if err != nil {
		t.Fatal(err)
	}
	doc := section12(t)
	t.Setenv("COFFER_HOME", "/coffer-home")
	n := 0
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSuffix(line, "\n")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			t.Fatalf("testdata/cache-ids.txt: %q: want three tab-separated fields", line)
		}
		given, canon, id := f[0], f[1], f[2]
		n++
		if got, err := Canonical(given); err != nil || got != canon {
			t.Errorf("Canonical(%q) = %q, %v; want %q", given, got, err, canon)
		}
		if !IsRemote(given) && !IsS3(given) {
			t.Errorf("%q: only server and S3 stores have a cache", given)
		}
		if got, err := home.CacheDir(canon); err != nil || got != filepath.Join("/coffer-home", "cache", id) {
			t.Errorf("CacheDir(%q) = %q, %v; want ID %s", canon, got, err, id)
		}
		if !strings.Contains(doc, "`"+canon+"`") || !strings.Contains(doc, id) {
			t.Errorf("docs/format.md §12 does not list %q and its ID %s", canon, id)
		}
	}
	if n < 8 {
		t.Errorf("testdata/cache-ids.txt lists %d locations", n)
	}
}

// section12 returns §12 of docs/format.md.
func section12(t *testing.T) string {
	b, err := os.ReadFile("../../../docs/format.md")
	if err != nil {
		t.Fatal(err)
	}
	_, s, ok := strings.Cut(string(b), "\n## 12 ")
	if !ok {
		t.Fatal("docs/format.md has no §12")
	}
	s, _, _ = strings.Cut(s, "\n## ")
	return s
}
