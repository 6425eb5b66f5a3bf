package archiver

import (
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/coffer-backup/coffer/internal/tree"
)

// TestAlignOld checks that each listed name gets the parent's entry of
// that name, and a name the parent lacks gets nil, whatever either list
// holds that the other does not; an unsorted parent only loses matches.
func TestAlignOld(t *testing.T) {
	for _, tc := range []struct {
		name       string
		names, old []string
		want       []string // "" for nil
	}{
		{"same", []string{"a", "b", "c"}, []string{"a", "b", "c"}, []string{"a", "b", "c"}},
		{"no parent", []string{"a", "b"}, nil, []string{"", ""}},
		{"nothing listed", nil, []string{"a"}, []string{}},
		{"added and removed", []string{"a", "c", "e"}, []string{"b", "c", "d", "f"}, []string{"", "c", ""}},
		{"parent only before", []string{"x", "y"}, []string{"a", "b", "x"}, []string{"x", ""}},
		{"byte order", []string{"B", "a", "é"}, []string{"B", "a", "é"}, []string{"B", "a", "é"}},
		{"unsorted parent", []string{"a", "b", "c"}, []string{"c", "a", "b"}, []string{"", "", "c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var old []*tree.Node
			for _, n := range tc.old {
				old = append(old, &tree.Node{Name: []byte(n)})
			}
			got := alignOld(tc.names, old)
			names := make([]string, len(got))
			for i, n := range got {
				if n != nil {
					names[i] = string(n.Name)
				}
			}
			if !slices.Equal(names, tc.want) {
				t.Errorf("alignOld(%q, %q) = %q, want %q", tc.names, tc.old, names, tc.want)
			}
		})
	}
}

// TestJoinName checks that joinName is filepath.Join for the clean
// directories and single names a walk joins.
func TestJoinName(t *testing.T) {
	dirs := []string{"", "/", "/a", "/a/b", "a", "."}
	if runtime.GOOS == "windows" {
		dirs = append(dirs, `C:\`, `C:\a`, `\\host\share\a`)
	}
	for _, dir := range dirs {
		for _, name := range []string{"x", "x.y", "..x", " x "} {
			if got, want := joinName(dir, name), filepath.Join(dir, name); got != want {
				t.Errorf("joinName(%q, %q) = %q, want %q", dir, name, got, want)
			}
		}
	}
}
