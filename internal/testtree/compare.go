//go:build linux

package testtree

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/tree"
)

// maxReported bounds the differences Compare reports one by one.
const maxReported = 40

// Compare fails the test unless the trees at a and b are the same item by
// item: same relative paths (name bytes) and, for each, every field of Item.
// Access and change times, inode numbers, link counts and directory sizes are
// not compared: a faithful restore cannot reproduce them.
func Compare(t testing.TB, a, b string) {
	t.Helper()
	report(t, fmt.Sprintf("%s vs %s", a, b), Diff(MustScan(t, a), MustScan(t, b)))
}

// Unchanged fails the test unless the tree at dir is still as before, a
// record Scan or MustScan made.
func Unchanged(t testing.TB, before Tree, dir string) {
	t.Helper()
	report(t, dir+" changed", Diff(before, MustScan(t, dir)))
}

func report(t testing.TB, what string, diffs []string) {
	t.Helper()
	if len(diffs) == 0 {
		return
	}
	shown := diffs[:min(len(diffs), maxReported)]
	more := ""
	if len(diffs) > len(shown) {
		more = fmt.Sprintf("\n... and %d more", len(diffs)-len(shown))
	}
	t.Errorf("testtree: %s: %d differences:\n%s%s", what, len(diffs), "  "+strings.Join(shown, "\n  "), more)
}

// Diff lists the differences between two trees, one line per field that
// differs, in path order; a names the first tree's value, b the second's.
func Diff(a, b Tree) []string {
	paths := make([]string, 0, len(a)+len(b))
	for p := range a {
		paths = append(paths, p)
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	var out []string
	for _, p := range paths {
		x, inA := a[p]
		y, inB := b[p]
		switch {
		case !inB:
			out = append(out, fmt.Sprintf("%q: only in a (%s)", p, x.Type))
		case !inA:
			out = append(out, fmt.Sprintf("%q: only in b (%s)", p, y.Type))
		default:
			for _, d := range diffItem(x, y) {
				out = append(out, fmt.Sprintf("%q: %s", p, d))
			}
		}
	}
	return out
}

// diffItem compares every field of two items.
func diffItem(x, y Item) []string {
	var out []string
	field := func(name string, eq bool, a, b any) {
		if !eq {
			out = append(out, fmt.Sprintf("%s: a %v, b %v", name, a, b))
		}
	}
	field("type", x.Type == y.Type, x.Type, y.Type)
	field("mode", x.Mode == y.Mode, fmt.Sprintf("%#o", x.Mode), fmt.Sprintf("%#o", y.Mode))
	field("owner", x.UID == y.UID && x.GID == y.GID, fmt.Sprintf("%d:%d", x.UID, x.GID), fmt.Sprintf("%d:%d", y.UID, y.GID))
	field("mtime", x.MTime == y.MTime, x.MTime, y.MTime)
	field("size", x.Size == y.Size, x.Size, y.Size)
	field("rdev", x.Rdev == y.Rdev, fmt.Sprintf("%#x", x.Rdev), fmt.Sprintf("%#x", y.Rdev))
	field("symlink target", x.Target == y.Target, fmt.Sprintf("%q", x.Target), fmt.Sprintf("%q", y.Target))
	field("xattrs", slices.EqualFunc(x.Xattrs, y.Xattrs, func(p, q tree.Xattr) bool {
		return p.Name == q.Name && bytes.Equal(p.Value, q.Value)
	}), fmt.Sprintf("%q", x.Xattrs), fmt.Sprintf("%q", y.Xattrs))
	field("data ranges", slices.Equal(x.Ranges, y.Ranges), x.Ranges, y.Ranges)
	field("content", x.Sum == y.Sum, fmt.Sprintf("%x", x.Sum[:8]), fmt.Sprintf("%x", y.Sum[:8]))
	field("hard link of", x.Link == y.Link, fmt.Sprintf("%q", x.Link), fmt.Sprintf("%q", y.Link))
	return out
}
