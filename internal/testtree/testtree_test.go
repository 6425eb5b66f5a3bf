//go:build linux

package testtree

import (
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/coffer-backup/coffer/internal/tree"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func isRoot() bool { return os.Geteuid() == 0 }

// base is the tree the detection tests mutate.
func base() Spec {
	return Spec{
		{Path: "", Type: tree.Dir, Mode: 0o750, MTime: 1},
		{Path: "d", Type: tree.Dir, Mode: 0o755, MTime: -1_500_000_000_123_456_789},
		{Path: "d/f", Data: []byte("hello"), Mode: 0o644, MTime: 7_000_000_000_000_000_001, Xattrs: map[string][]byte{"user.bin": {0, 0xff, '\n'}}},
		{Path: "d/link", Link: "d/f"},
		{Path: "copy", Data: []byte("hello"), Mode: 0o644, MTime: 7_000_000_000_000_000_001, Xattrs: map[string][]byte{"user.bin": {0, 0xff, '\n'}}},
		{Path: "\xff\xfe", Data: []byte("odd name")},
		{Path: "sparse", Islands: []Island{{8192, []byte("island")}}, Size: 1 << 20},
		{Path: "sl", Type: tree.Symlink, Target: "d", MTime: 42},
		{Path: "fifo", Type: tree.Fifo, Mode: 0o4640},
		{Path: "empty", Type: tree.Dir, Mode: 0o1777},
	}
}

func TestBuildScan(t *testing.T) {
	dir := t.TempDir()
	Build(t, dir, base())
	got := MustScan(t, dir)
	for _, tc := range []struct {
		path string
		want Item // Sum and Ranges are checked by TestDiffDetects
	}{
		{".", Item{Type: tree.Dir, Mode: 0o750, MTime: 1}},
		{"d", Item{Type: tree.Dir, Mode: 0o755, MTime: -1_500_000_000_123_456_789}},
		{"d/f", Item{Type: tree.File, Mode: 0o644, MTime: 7_000_000_000_000_000_001, Size: 5,
			Xattrs: []tree.Xattr{{Name: "user.bin", Value: []byte{0, 0xff, '\n'}}}, Link: "d/f"}},
		{"d/link", Item{Type: tree.File, Mode: 0o644, MTime: 7_000_000_000_000_000_001, Size: 5,
			Xattrs: []tree.Xattr{{Name: "user.bin", Value: []byte{0, 0xff, '\n'}}}, Link: "d/f"}},
		{"\xff\xfe", Item{Type: tree.File, Mode: 0o644, MTime: DefaultMTime, Size: 8, Link: "\xff\xfe"}},
		{"sparse", Item{Type: tree.File, Mode: 0o644, MTime: DefaultMTime, Size: 1 << 20, Link: "sparse"}},
		{"sl", Item{Type: tree.Symlink, Mode: 0o777, MTime: 42, Target: "d", Link: "sl"}},
		{"fifo", Item{Type: tree.Fifo, Mode: 0o4640, MTime: DefaultMTime, Link: "fifo"}},
		{"empty", Item{Type: tree.Dir, Mode: 0o1777, MTime: DefaultMTime}},
	} {
		it, ok := got[tc.path]
		if !ok {
			t.Errorf("%q: not found", tc.path)
			continue
		}
		uid, gid := uint32(os.Geteuid()), uint32(os.Getegid())
		tc.want.UID, tc.want.GID = uid, gid
		it.Sum, it.Ranges = [32]byte{}, nil
		if !reflect.DeepEqual(it, tc.want) {
			t.Errorf("%q:\n got  %+v\n want %+v", tc.path, it, tc.want)
		}
	}
	if len(got) != 10 {
		t.Errorf("scanned %d items, want 10 (symbolic links must not be followed)", len(got))
	}
	if r := got["sparse"].Ranges; len(r) != 1 || r[0].Off != 8192 || r[0].Len != 4096 {
		t.Errorf("sparse file data ranges %v, want one 4 KiB block at 8192", r)
	}

	skipped := MustScan(t, dir, "d/f", "empty", "sl")
	if len(skipped) != 7 || skipped["d/link"].Link != "d/link" {
		t.Errorf("skipping 3 items left %d (want 7), d/link is a link of %q", len(skipped), skipped["d/link"].Link)
	}
}

// TestDiffDetects changes one property of a copy of the base tree at a time
// and checks that Diff reports exactly that.
func TestDiffDetects(t *testing.T) {
	ts := func(ns int64) []unix.Timespec {
		return []unix.Timespec{unix.NsecToTimespec(ns), unix.NsecToTimespec(ns)}
	}
	setTime := func(t *testing.T, p string, ns int64) {
		must(t, unix.UtimesNanoAt(unix.AT_FDCWD, p, ts(ns), unix.AT_SYMLINK_NOFOLLOW))
	}
	for _, tc := range []struct {
		name   string
		root   bool
		change func(t *testing.T, dir string)
		want   []string // substrings of the lines Diff must report, in order
	}{
		{"mode", false, func(t *testing.T, d string) { must(t, unix.Chmod(d+"/copy", 0o600)) }, []string{`"copy": mode`}},
		{"setuid", false, func(t *testing.T, d string) { must(t, unix.Chmod(d+"/copy", 0o4644)) }, []string{`"copy": mode`}},
		{"sticky", false, func(t *testing.T, d string) { must(t, unix.Chmod(d+"/empty", 0o755)) }, []string{`"empty": mode`}},
		{"owner", true, func(t *testing.T, d string) { must(t, unix.Lchown(d+"/sl", 0, 7)) }, []string{`"sl": owner`}},
		{"file mtime", false, func(t *testing.T, d string) { setTime(t, d+"/copy", 2) }, []string{`"copy": mtime`}},
		{"dir mtime nanosecond", false, func(t *testing.T, d string) { setTime(t, d+"/d", -1_500_000_000_123_456_788) }, []string{`"d": mtime`}},
		{"symlink mtime", false, func(t *testing.T, d string) { setTime(t, d+"/sl", 43) }, []string{`"sl": mtime`}},
		{"content", false, func(t *testing.T, d string) {
			must(t, os.WriteFile(d+"/copy", []byte("jello"), 0))
			setTime(t, d+"/copy", 7_000_000_000_000_000_001)
		}, []string{`"copy": content`}},
		{"size", false, func(t *testing.T, d string) {
			must(t, os.Truncate(d+"/copy", 6))
			setTime(t, d+"/copy", 7_000_000_000_000_000_001)
		}, []string{`"copy": size`, `"copy": data ranges`, `"copy": content`}},
		{"name bytes", false, func(t *testing.T, d string) {
			must(t, os.Rename(d+"/\xff\xfe", d+"/\xff\xfd"))
			setTime(t, d, 1)
		}, []string{`"\xff\xfd": only in b`, `"\xff\xfe": only in a`}},
		{"extra", false, func(t *testing.T, d string) {
			must(t, os.Mkdir(d+"/empty/x", 0o755))
			setTime(t, d+"/empty", DefaultMTime)
		},
			[]string{`"empty/x": only in b`}},
		{"target", false, func(t *testing.T, d string) {
			must(t, os.Remove(d+"/sl"))
			must(t, os.Symlink("e", d+"/sl"))
			setTime(t, d+"/sl", 42)
			setTime(t, d, 1)
		}, []string{`"sl": symlink target`}},
		{"type", false, func(t *testing.T, d string) {
			must(t, os.Remove(d+"/fifo"))
			must(t, os.WriteFile(d+"/fifo", nil, 0))
			must(t, unix.Chmod(d+"/fifo", 0o4640))
			setTime(t, d+"/fifo", DefaultMTime)
			setTime(t, d, 1)
		}, []string{`"fifo": type`, `"fifo": content`}},
		{"xattr value", false, func(t *testing.T, d string) { must(t, unix.Lsetxattr(d+"/copy", "user.bin", []byte{0, 0xff, '\r'}, 0)) },
			[]string{`"copy": xattrs`}},
		{"xattr added", false, func(t *testing.T, d string) { must(t, unix.Lsetxattr(d+"/empty", "user.x", nil, 0)) },
			[]string{`"empty": xattrs`}},
		{"hard link broken", false, func(t *testing.T, d string) {
			must(t, os.Remove(d+"/d/link"))
			must(t, os.Link(d+"/copy", d+"/d/link"))
			setTime(t, d+"/d", -1_500_000_000_123_456_789)
		}, []string{`"d/link": hard link of`}},
		{"hole filled", false, func(t *testing.T, d string) {
			f, err := os.OpenFile(d+"/sparse", os.O_WRONLY, 0)
			must(t, err)
			_, err = f.WriteAt(make([]byte, 4096), 0)
			must(t, err)
			must(t, f.Close())
			setTime(t, d+"/sparse", DefaultMTime)
		}, []string{`"sparse": data ranges`, `"sparse": content`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root && !isRoot() {
				t.Skip("needs root")
			}
			a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
			Build(t, a, base())
			Build(t, b, base())
			if d := Diff(MustScan(t, a), MustScan(t, b)); len(d) > 0 {
				t.Fatalf("identical trees differ: %q", d)
			}
			tc.change(t, b)
			d := Diff(MustScan(t, a), MustScan(t, b))
			if len(d) != len(tc.want) {
				t.Fatalf("Diff reported %q, want lines with %q", d, tc.want)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(d[i], w) {
					t.Errorf("line %d is %q, want it to start with %q", i, d[i], w)
				}
			}
		})
	}
}

func TestDiffDetectsDevice(t *testing.T) {
	if !isRoot() {
		t.Skip("needs root")
	}
	a, b := t.TempDir(), t.TempDir()
	Build(t, a, Spec{{Path: "", Type: tree.Dir}, {Path: "c", Type: tree.CharDev, Rdev: unix.Mkdev(1, 3)}})
	Build(t, b, Spec{{Path: "", Type: tree.Dir}, {Path: "c", Type: tree.CharDev, Rdev: unix.Mkdev(1, 5)}})
	if d := Diff(MustScan(t, a), MustScan(t, b)); len(d) != 1 || !strings.HasPrefix(d[0], `"c": rdev`) {
		t.Errorf("Diff reported %q, want the device number", d)
	}
}

func TestRandomDeterministic(t *testing.T) {
	opts := Options{Entries: 300, Privileged: true}
	if !reflect.DeepEqual(Generate(7, opts, true), Generate(7, opts, true)) {
		t.Fatal("the same seed gave different specs")
	}
	if reflect.DeepEqual(Generate(7, opts, true), Generate(8, opts, true)) {
		t.Fatal("different seeds gave the same spec")
	}
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	Random(t, a, 7, opts)
	Random(t, b, 7, opts)
	Compare(t, a, b)
}

// TestRandomVariety checks that a random tree holds every kind of item the
// round-trip tests rely on it for.
func TestRandomVariety(t *testing.T) {
	type check struct {
		what string
		ok   func(p string, it Item) bool
	}
	checks := []check{
		{"directory", func(_ string, it Item) bool { return it.Type == tree.Dir }},
		{"symlink", func(_ string, it Item) bool { return it.Type == tree.Symlink }},
		{"fifo", func(_ string, it Item) bool { return it.Type == tree.Fifo }},
		{"socket", func(_ string, it Item) bool { return it.Type == tree.Socket }},
		{"empty file", func(_ string, it Item) bool { return it.Type == tree.File && it.Size == 0 }},
		{"file over 16 KiB", func(_ string, it Item) bool { return it.Type == tree.File && rangesLen(it.Ranges) > 16<<10 }},
		{"sparse file", func(_ string, it Item) bool {
			return it.Type == tree.File && len(it.Ranges) > 0 && rangesLen(it.Ranges) < it.Size
		}},
		{"hard link", func(p string, it Item) bool { return it.Link != "" && it.Link != p }},
		{"hard link across directories", func(p string, it Item) bool {
			return it.Link != "" && it.Link != p && filepath.Dir(it.Link) != filepath.Dir(p)
		}},
		{"xattr", func(_ string, it Item) bool { return len(it.Xattrs) > 0 }},
		{"setuid", func(_ string, it Item) bool { return it.Mode&0o4000 != 0 }},
		{"sticky", func(_ string, it Item) bool { return it.Mode&0o1000 != 0 }},
		{"non-UTF-8 name", func(p string, _ Item) bool { return !utf8.ValidString(filepath.Base(p)) }},
		{"255-byte name", func(p string, _ Item) bool { return len(filepath.Base(p)) == 255 }},
		{"newline in name", func(p string, _ Item) bool { return strings.Contains(filepath.Base(p), "\n") }},
		{"pre-1970 mtime", func(_ string, it Item) bool { return it.MTime < 0 }},
		{"post-2038 mtime", func(_ string, it Item) bool { return it.MTime > 1<<31*1e9 }},
		{"dangling symlink", func(_ string, it Item) bool { return strings.HasPrefix(it.Target, "nowhere/") }},
	}
	if isRoot() {
		checks = append(checks,
			check{"device", func(_ string, it Item) bool { return it.Type == tree.CharDev || it.Type == tree.BlockDev }},
			check{"other owner", func(_ string, it Item) bool { return it.UID != 0 }},
			check{"trusted xattr on a symlink", func(_ string, it Item) bool {
				return it.Type == tree.Symlink && slices.ContainsFunc(it.Xattrs, func(x tree.Xattr) bool { return strings.HasPrefix(x.Name, "trusted.") })
			}},
		)
	}
	dir := t.TempDir()
	Random(t, dir, 1, Options{Entries: 400, Privileged: true})
	tr := MustScan(t, dir)
	for _, c := range checks {
		if !slices.ContainsFunc(slices.Collect(maps.Keys(tr)), func(p string) bool { return c.ok(p, tr[p]) }) {
			t.Errorf("no %s in the random tree", c.what)
		}
	}
}

func rangesLen(rs []Range) int64 {
	var n int64
	for _, r := range rs {
		n += r.Len
	}
	return n
}
