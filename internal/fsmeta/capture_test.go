//go:build linux

package fsmeta

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/coffer-backup/coffer/internal/tree"
)

// TestStat checks the fields Stat fills for each kind of file against what
// was made.
func TestStat(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	writeFile(t, p("file"), []byte("12345"), 0o4751)
	must(t, os.Link(p("file"), p("link")))
	mkdir(t, p("dir"), 0o1755)
	must(t, os.Symlink("file", p("symlink")))
	must(t, unix.Mkfifo(p("fifo"), 0o600))
	must(t, unix.Mknod(p("socket"), unix.S_IFSOCK|0o600, 0))
	touch(t, p("file"), base)

	u, err := user.Current()
	must(t, err)
	g, err := user.LookupGroupId(strconv.Itoa(os.Getegid()))
	must(t, err)
	tests := []struct {
		name       string
		typ        tree.NodeType
		mode       uint32
		size       uint64
		links      uint64
		linkTarget string
	}{
		{"file", tree.File, 0o4751, 5, 2, ""},
		{"link", tree.File, 0o4751, 5, 2, ""},
		{"dir", tree.Dir, 0o1755, 0, 2, ""},
		{"symlink", tree.Symlink, 0o777, 0, 1, "file"},
		{"fifo", tree.Fifo, 0o600, 0, 1, ""},
		{"socket", tree.Socket, 0o600, 0, 1, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := stat(t, p(tc.name))
			var st unix.Stat_t
			must(t, unix.Lstat(p(tc.name), &st))
			if string(n.Name) != tc.name || n.Type != tc.typ || n.Mode != tc.mode || n.Size != tc.size ||
				n.Links != tc.links || string(n.LinkTarget) != tc.linkTarget {
				t.Errorf("got %+v", n)
			}
			if n.Inode != st.Ino || n.Device != st.Dev || n.CTime != st.Ctim.Nano() || n.MTime != st.Mtim.Nano() {
				t.Errorf("identity or times: got %+v, lstat %+v", n, st)
			}
			if n.UID != uint32(os.Geteuid()) || n.User != u.Username || n.GID != uint32(os.Getegid()) || n.Group != g.Name {
				t.Errorf("owner: got %d %q %d %q", n.UID, n.User, n.GID, n.Group)
			}
		})
	}
	if a, b := stat(t, p("file")), stat(t, p("link")); a.Inode != b.Inode || a.MTime != base {
		t.Errorf("hard links differ or mtime lost: %+v %+v", a, b)
	}
}

// TestStatDoesNotFollowSymlinks checks that a symbolic link is captured as
// itself, not as what it points to, even when that is a directory with
// attributes.
func TestStatDoesNotFollowSymlinks(t *testing.T) {
	dir := t.TempDir()
	target, link := filepath.Join(dir, "target"), filepath.Join(dir, "link")
	mkdir(t, target, 0o755)
	if unix.Lsetxattr(target, "user.mark", []byte("target's"), 0) != nil {
		t.Log("user xattrs unsupported here: checking type, size and inode only")
	}
	must(t, os.Symlink(target, link))
	n, tn := stat(t, link), stat(t, target)
	if n.Type != tree.Symlink || string(n.LinkTarget) != target || n.Size != 0 ||
		n.Xattrs != nil || n.Inode == tn.Inode {
		t.Errorf("link captured as its target: %+v", n)
	}
	if _, err := ReadDirNames(link); !errors.Is(err, unix.ENOTDIR) && !errors.Is(err, unix.ELOOP) {
		t.Errorf("ReadDirNames followed a symlink: %v", err)
	}
}

// TestStatXattrsSorted checks that attributes come back sorted by name,
// though the file system lists them in the order they were set.
func TestStatXattrsSorted(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	writeFile(t, p, nil, 0o600)
	needXattr(t, filepath.Dir(p), "user.probe")
	for _, name := range []string{"user.zz", "user.aaa", "user.b"} {
		must(t, unix.Lsetxattr(p, name, []byte(name), 0))
	}
	var names []string
	for _, x := range stat(t, p).Xattrs {
		if string(x.Value) != x.Name {
			t.Errorf("%s = %q", x.Name, x.Value)
		}
		names = append(names, x.Name)
	}
	if want := []string{"user.aaa", "user.b", "user.zz"}; !slices.Equal(names, want) {
		t.Errorf("got %q, want %q", names, want)
	}
}

func TestStatMissing(t *testing.T) {
	if _, err := Stat(filepath.Join(t.TempDir(), "none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v, want not exist", err)
	}
}

// TestReadDirNames checks that names of any bytes come back sorted by bytes.
func TestReadDirNames(t *testing.T) {
	dir := t.TempDir()
	names := []string{"b", "a\nb", "\xff\xfe", "é", "A", " ", "a", "a.", "\x01"}
	for _, name := range names {
		writeFile(t, filepath.Join(dir, name), nil, 0o600)
	}
	got, err := ReadDirNames(dir)
	must(t, err)
	want := []string{"\x01", " ", "A", "a", "a\nb", "a.", "b", "é", "\xff\xfe"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	empty, err := ReadDirNames(t.TempDir())
	if err != nil || len(empty) != 0 {
		t.Errorf("empty dir: %q, %v", empty, err)
	}
	if _, err := ReadDirNames(filepath.Join(dir, "a")); !errors.Is(err, unix.ENOTDIR) {
		t.Errorf("file: got %v, want ENOTDIR", err)
	}
}

// TestDirStatSince checks that stating an entry relative to its open
// directory captures what capturing its path does, for every kind of
// entry, and that a symbolic link is not followed.
func TestDirStatSince(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	writeFile(t, p("file"), []byte("12345"), 0o640)
	mkdir(t, p("dir"), 0o755)
	must(t, os.Symlink("dir", p("symlink")))
	must(t, unix.Mkfifo(p("fifo"), 0o600))
	d, names, err := OpenDir(dir)
	must(t, err)
	defer d.Close()
	if want := []string{"dir", "fifo", "file", "symlink"}; !slices.Equal(names, want) {
		t.Fatalf("names %q, want %q", names, want)
	}
	for i, name := range names {
		if d.Regular(i) != (name == "file") {
			t.Errorf("%s: listed as a regular file: %v", name, d.Regular(i))
		}
		got, _, err := d.StatSince(name, nil)
		must(t, err)
		want, _, err := captureSince(p(name), nil)
		must(t, err)
		if fmt.Sprint(*got) != fmt.Sprint(*want) {
			t.Errorf("%s: relative %+v, by path %+v", name, *got, *want)
		}
	}
	if n, _, _ := d.StatSince("symlink", nil); n.Type != tree.Symlink || string(n.LinkTarget) != "dir" {
		t.Errorf("symlink captured as %v -> %q", n.Type, n.LinkTarget)
	}
	if _, _, err := d.StatSince("missing", nil); !errors.Is(err, unix.ENOENT) {
		t.Errorf("missing entry: %v, want ENOENT", err)
	}
}

// TestCaptureFile checks that capturing an open file through its
// descriptor captures what capturing its path does, attributes included
// (one larger than the first buffer tried, so read twice), and reports
// what the file system allocated.
func TestCaptureFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "file")
	writeFile(t, p, bytes.Repeat([]byte("data"), 3000), 0o640)
	must(t, os.Link(p, filepath.Join(dir, "link")))
	needXattr(t, dir, "user.probe")
	must(t, unix.Lsetxattr(p, "user.small", []byte("1"), 0))
	must(t, unix.Lsetxattr(p, "user.large", bytes.Repeat([]byte("v"), 3*xattrBuf), 0))
	f, err := os.Open(p)
	must(t, err)
	defer f.Close()
	got, allocated, warnings, err := CaptureFile(f)
	must(t, err)
	want, _, err := captureSince(p, nil)
	must(t, err)
	if fmt.Sprint(*got) != fmt.Sprint(*want) || len(warnings) != 0 {
		t.Errorf("through the descriptor %+v (warnings %v), by path %+v", *got, warnings, *want)
	}
	if len(got.Xattrs) != 2 || len(got.Xattrs[0].Value) != 3*xattrBuf || got.Links != 2 {
		t.Errorf("attributes or links lost: %d attributes, %d links", len(got.Xattrs), got.Links)
	}
	var st unix.Stat_t
	must(t, unix.Fstat(int(f.Fd()), &st))
	if allocated != st.Blocks*512 {
		t.Errorf("allocated %d, want %d", allocated, st.Blocks*512)
	}
}

// TestDataRanges checks data ranges of files with holes at the start, in the
// middle and at the end, and of files without holes.
func TestDataRanges(t *testing.T) {
	const mib = 1 << 20
	block := make([]byte, 4096)
	for i := range block {
		block[i] = byte(i) | 1
	}
	tests := []struct {
		name   string
		writes []int64 // offsets of 4 KiB blocks of data
		size   int64   // final size
		limit  int64   // size passed to DataRanges
		want   []Range
	}{
		{"empty", nil, 0, 0, nil},
		{"all hole", nil, 3 * mib, 3 * mib, nil},
		{"dense", []int64{0, 4096, 8192}, 10000, 10000, []Range{{0, 10000}}},
		{"holes between", []int64{0, mib}, 4 * mib, 4 * mib, []Range{{0, 4096}, {mib, 4096}}},
		{"leading hole", []int64{2 * mib}, 2*mib + 100, 2*mib + 100, []Range{{2 * mib, 100}}},
		{"limited to size", []int64{0, mib}, 4 * mib, mib + 10, []Range{{0, 4096}, {mib, 10}}},
		{"data past size", []int64{mib}, 2 * mib, mib, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := os.Create(filepath.Join(t.TempDir(), "f"))
			must(t, err)
			defer f.Close()
			for _, off := range tc.writes {
				_, err := f.WriteAt(block, off)
				must(t, err)
			}
			must(t, f.Truncate(tc.size))
			must(t, f.Sync())
			got, err := DataRanges(f, tc.limit)
			must(t, err)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestDataRangesUnsupported checks the fallback for files that cannot report
// holes: procfs files refuse SEEK_DATA with EINVAL.
func TestDataRangesUnsupported(t *testing.T) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no procfs: %v", err)
	}
	defer f.Close()
	if _, err := f.Seek(0, unix.SEEK_DATA); !errors.Is(err, unix.EINVAL) {
		t.Skipf("procfs supports SEEK_DATA here (%v)", err)
	}
	got, err := DataRanges(f, 100)
	if err != nil || !slices.Equal(got, []Range{{0, 100}}) {
		t.Errorf("got %v, %v; want [{0 100}]", got, err)
	}
}

// TestUnchanged checks that any change to what identifies a file's content
// counts, and nothing else does.
func TestUnchanged(t *testing.T) {
	old := &tree.Node{Type: tree.File, Size: 10, MTime: 1, CTime: 2, Inode: 3, Device: 4, Mode: 0o644, Links: 1}
	tests := []struct {
		name   string
		change func(n *tree.Node)
		want   bool
	}{
		{"same", func(*tree.Node) {}, true},
		{"name and links", func(n *tree.Node) { n.Name, n.Links = []byte("x"), 2 }, true},
		{"type", func(n *tree.Node) { n.Type = tree.Symlink }, false},
		{"size", func(n *tree.Node) { n.Size++ }, false},
		{"mtime", func(n *tree.Node) { n.MTime++ }, false},
		{"ctime", func(n *tree.Node) { n.CTime++ }, false},
		{"inode", func(n *tree.Node) { n.Inode++ }, false},
		{"device", func(n *tree.Node) { n.Device++ }, false},
	}
	for _, tc := range tests {
		cur := *old
		tc.change(&cur)
		if got := Unchanged(old, &cur); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	if Unchanged(nil, old) || Unchanged(old, nil) {
		t.Error("a nil node counted as unchanged")
	}
}

// TestUnchangedOnDisk checks Unchanged against real edits of a file.
func TestUnchangedOnDisk(t *testing.T) {
	tests := []struct {
		name string
		edit func(t *testing.T, p string)
		want bool
	}{
		{"nothing", func(*testing.T, string) {}, true},
		{"read", func(t *testing.T, p string) { _, err := os.ReadFile(p); must(t, err) }, true},
		{"same-size rewrite, mtime kept", func(t *testing.T, p string) {
			n := stat(t, p)
			writeFile(t, p, []byte("HELLO"), 0o644)
			touch(t, p, n.MTime)
		}, false},
		{"chmod", func(t *testing.T, p string) { chmod(t, p, 0o600) }, false},
		{"replaced", func(t *testing.T, p string) {
			writeFile(t, p+".new", []byte("hello"), 0o644)
			touch(t, p+".new", stat(t, p).MTime)
			must(t, os.Rename(p+".new", p))
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "f")
			writeFile(t, p, []byte("hello"), 0o644)
			touch(t, p, base)
			old := stat(t, p)
			tc.edit(t, p)
			if got := Unchanged(old, stat(t, p)); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// BenchmarkStat measures the capture of one file with one attribute.
func BenchmarkStat(b *testing.B) {
	p := filepath.Join(b.TempDir(), "f")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		b.Fatal(err)
	}
	if unix.Lsetxattr(p, "user.a", []byte("v"), 0) != nil {
		b.Log("no user xattrs: measuring without")
	}
	for b.Loop() {
		if _, err := Stat(p); err != nil {
			b.Fatal(err)
		}
	}
}

// TestStatSinceXattrs checks that captureSince (Dir.StatSince) takes the attributes from the
// earlier capture only while the file's status change time and identity
// are those of that capture: after an attribute changes, it reads them.
func TestStatSinceXattrs(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	writeFile(t, p, []byte("data"), 0o600)
	needXattr(t, filepath.Dir(p), "user.probe")
	must(t, unix.Lsetxattr(p, "user.a", []byte("1"), 0))
	old := stat(t, p)
	old.Xattrs = []tree.Xattr{{Name: "user.kept", Value: []byte("from the earlier capture")}}
	value := func(n *tree.Node) string { return fmt.Sprintf("%s=%s", n.Xattrs[0].Name, n.Xattrs[0].Value) }
	n, _, err := captureSince(p, old)
	must(t, err)
	if got := value(n); got != "user.kept=from the earlier capture" {
		t.Errorf("unchanged file: %s, want the earlier capture's attributes", got)
	}
	must(t, unix.Lsetxattr(p, "user.a", []byte("2"), 0)) // updates the status change time
	n, _, err = captureSince(p, old)
	must(t, err)
	if n.CTime == old.CTime {
		t.Skip("the status change time did not move on setxattr (coarse clock)")
	}
	if got := value(n); got != "user.a=2" {
		t.Errorf("after setxattr: %s, want user.a=2", got)
	}
	other := stat(t, p)
	other.Inode++
	if n, _, _ = captureSince(p, other); value(n) != "user.a=2" {
		t.Errorf("another inode: %s, want user.a=2", value(n))
	}
}
