//go:build linux

package archiver_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/coffer-backup/coffer/internal/archiver"
	"github.com/coffer-backup/coffer/internal/testtree"
	"github.com/coffer-backup/coffer/internal/testtree/testrepo"
	"github.com/coffer-backup/coffer/internal/tree"
)

func isRoot() bool { return os.Geteuid() == 0 }

// roundTrip backs up the tree at src, restores it into a new directory and
// compares the two. It fails on any warning.
func roundTrip(t *testing.T, r *testrepo.Repo, opts archiver.Options, src string) (*archiver.Archiver, *archiver.Result) {
	t.Helper()
	a, res := r.Backup(t, opts, src)
	if len(res.Warnings) > 0 {
		t.Fatalf("backup warnings: %v", res.Warnings)
	}
	dst := t.TempDir()
	r.MustRestore(t, res.Snapshot, dst)
	testtree.Compare(t, src, filepath.Join(dst, filepath.Base(src)))
	return a, res
}

// buildTrip builds spec in a new directory src and round-trips it.
func buildTrip(t *testing.T, spec testtree.Spec) (*testrepo.Repo, string, *archiver.Archiver, *archiver.Result) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	testtree.Build(t, src, spec)
	r := testrepo.New(t)
	a, res := roundTrip(t, r, archiver.Options{}, src)
	return r, src, a, res
}

func TestRoundTripRandom(t *testing.T) {
	for _, tc := range []struct {
		seed uint64
		opts testtree.Options
	}{
		{1, testtree.Options{}},
		{2, testtree.Options{Privileged: true}},
		{3, testtree.Options{Privileged: true, Entries: 400, MaxDepth: 12}},
		{4, testtree.Options{Privileged: true, Entries: 60, MaxSize: 3 << 20, MaxHoles: 64 << 20}},
	} {
		t.Run(fmt.Sprint(tc.seed), func(t *testing.T) {
			t.Parallel()
			src := filepath.Join(t.TempDir(), "src")
			testtree.Random(t, src, tc.seed, tc.opts)
			roundTrip(t, testrepo.New(t), archiver.Options{}, src)
		})
	}
}

// nested returns a spec of nested directories, each named name, n deep.
func nested(name string, n int) testtree.Spec {
	var spec testtree.Spec
	p := ""
	for i := range n {
		p += name
		spec = append(spec, testtree.Entry{Path: p, Type: tree.Dir, Mode: 0o700 + uint32(i%8), MTime: int64(i) * 1_000_000_007})
		p += "/"
	}
	return append(spec, testtree.Entry{Path: p + "leaf", Data: []byte("bottom")})
}

func TestRoundTripTricky(t *testing.T) {
	const ns = 1_000_000_000
	bin := make([]byte, 3000)
	for i := range bin {
		bin[i] = byte(i * 7)
	}
	for _, tc := range []struct {
		name string
		root bool
		spec testtree.Spec
	}{
		{"empty root", false, testtree.Spec{{Path: "", Type: tree.Dir, Mode: 0o711, MTime: 5}}},
		{"empty files and dirs", false, testtree.Spec{
			{Path: "e", Data: nil},
			{Path: "d", Type: tree.Dir},
			{Path: "d/e", Data: []byte{}},
			{Path: "d/d", Type: tree.Dir, Mode: 0o700},
			{Path: "d/d/d", Type: tree.Dir, MTime: -3},
		}},
		{"names", false, testtree.Spec{
			{Path: "\xff\xfe", Data: []byte("a")},
			{Path: "new\nline", Data: []byte("b")},
			{Path: "back\\slash", Type: tree.Dir},
			{Path: "back\\slash/-rf", Data: []byte("c")},
			{Path: "-", Data: []byte("d")},
			{Path: "--help", Type: tree.Dir},
			{Path: strings.Repeat("x", 255), Data: []byte("e")},
			{Path: strings.Repeat("é", 127) + "y", Type: tree.Dir},
			{Path: strings.Repeat("é", 127) + "y/" + strings.Repeat("\x80", 255), Data: []byte("f")},
			{Path: "日本語 🙂 e\u0301", Data: []byte("g")},
			{Path: " ", Data: []byte("h")},
			{Path: "...", Data: []byte("i")},
			{Path: "*?[a]{b}", Data: []byte("j")},
			{Path: "\x01\x1b[31m", Data: []byte("k")},
			{Path: "a\tb\rc", Data: []byte("l")},
		}},
		{"deep", false, nested("d", 100)},
		{"hard links", false, testtree.Spec{
			{Path: "a/f", Data: []byte("linked"), Mode: 0o640, MTime: 77, Xattrs: map[string][]byte{"user.k": []byte("v")}},
			{Path: "a/g", Link: "a/f"},
			{Path: "b/c/h", Link: "a/f"},
			{Path: "b/same", Data: []byte("linked"), Mode: 0o640, MTime: 77, Xattrs: map[string][]byte{"user.k": []byte("v")}},
			{Path: "b/x", Data: []byte("two")},
			{Path: "\n", Link: "b/x"},
			{Path: "e", Data: nil},
			{Path: "b/e", Link: "e"},
		}},
		{"symlinks", false, testtree.Spec{
			{Path: "target", Type: tree.Dir},
			{Path: "target/file", Data: []byte("x")},
			{Path: "dangling", Type: tree.Symlink, Target: "does/not/exist", MTime: 11},
			{Path: "absolute", Type: tree.Symlink, Target: "/etc", MTime: -11},
			{Path: "to-dir", Type: tree.Symlink, Target: "target"},
			{Path: "to-file", Type: tree.Symlink, Target: "target/file"},
			{Path: "escape", Type: tree.Symlink, Target: "../../../../etc/passwd"},
			{Path: "self", Type: tree.Symlink, Target: "self"},
			{Path: "odd", Type: tree.Symlink, Target: "\xff\n\\ *"},
			{Path: "long", Type: tree.Symlink, Target: strings.Repeat("abcdefgh/", 450)},
			{Path: "longest", Type: tree.Symlink, Target: strings.Repeat("x/", 2047) + "y"}, // 4095 bytes
			{Path: "d/up", Type: tree.Symlink, Target: ".."},
		}},
		{"fifos and sockets", false, testtree.Spec{
			{Path: "fifo", Type: tree.Fifo, Mode: 0o620, MTime: 3 * ns},
			{Path: "d/sock", Type: tree.Socket, Mode: 0o755},
		}},
		{"devices", true, testtree.Spec{
			{Path: "null", Type: tree.CharDev, Rdev: unix.Mkdev(1, 3), Mode: 0o666},
			{Path: "big", Type: tree.CharDev, Rdev: unix.Mkdev(4095, 1<<20-1)},
			{Path: "blk", Type: tree.BlockDev, Rdev: unix.Mkdev(7, 200), Mode: 0o660},
			{Path: "zero", Type: tree.BlockDev, Rdev: 0},
		}},
		{"modes", false, testtree.Spec{
			{Path: "", Type: tree.Dir, Mode: 0o1777},
			{Path: "suid", Data: []byte("x"), Mode: 0o4755},
			{Path: "sgid", Data: []byte("x"), Mode: 0o2750},
			{Path: "all", Data: []byte("x"), Mode: 0o7777},
			{Path: "ro", Data: []byte("x"), Mode: 0o400},
			{Path: "sticky", Type: tree.Dir, Mode: 0o1770},
			{Path: "sgid-dir", Type: tree.Dir, Mode: 0o2775},
			{Path: "sgid-dir/f", Data: []byte("inherits nothing")},
		}},
		{"modes as root", true, testtree.Spec{ // unwritable directories cannot be removed otherwise
			{Path: "rx-dir", Type: tree.Dir, Mode: 0o500},
			{Path: "rx-dir/f", Data: []byte("x"), Mode: 0o600},
			{Path: "none", Data: []byte("x"), Mode: testtree.ModeNone},
			{Path: "no-dir", Type: tree.Dir, Mode: testtree.ModeNone},
			{Path: "no-dir/f", Data: []byte("x")},
			{Path: "suid-root", Data: []byte("x"), Mode: 0o6755, Owner: &testtree.Owner{UID: 0, GID: 0}},
		}},
		{"owners", true, testtree.Spec{
			{Path: "", Type: tree.Dir, Owner: &testtree.Owner{UID: 1000, GID: 1000}},
			{Path: "nobody", Data: []byte("x"), Owner: &testtree.Owner{UID: 65534, GID: 65534}},
			{Path: "unknown", Data: []byte("x"), Mode: 0o6755, Owner: &testtree.Owner{UID: 123456, GID: 654321}},
			{Path: "huge", Type: tree.Dir, Owner: &testtree.Owner{UID: 4_000_000_000, GID: 1}},
			{Path: "link", Type: tree.Symlink, Target: "x", Owner: &testtree.Owner{UID: 7, GID: 8}},
			{Path: "fifo", Type: tree.Fifo, Owner: &testtree.Owner{UID: 9, GID: 10}},
		}},
		{"times", false, testtree.Spec{
			{Path: "", Type: tree.Dir, MTime: -1},
			{Path: "epoch+1ns", Data: []byte("x"), MTime: 1},
			{Path: "1901", Data: []byte("x"), MTime: -2_147_483_648*ns + 999_999_999},
			{Path: "2100", Type: tree.Dir, MTime: 4_102_444_800*ns + 1},
			{Path: "2100/f", Data: nil, MTime: 4_102_444_800 * ns},
			{Path: "link", Type: tree.Symlink, Target: "2100", MTime: 123_456_789},
			{Path: "fifo", Type: tree.Fifo, MTime: -987_654_321},
		}},
		{"xattrs", false, testtree.Spec{
			{Path: "", Type: tree.Dir, Xattrs: map[string][]byte{"user.root": []byte("r")}},
			{Path: "f", Data: []byte("x"), Xattrs: map[string][]byte{
				"user.bin": {0, 1, 2, 0, 0xff}, "user.empty": nil, "user.big": bin, "user.\xff\n name": []byte("odd name"),
			}},
			{Path: "d", Type: tree.Dir, Xattrs: map[string][]byte{"user.d": {0}}},
			{Path: "empty", Data: nil, Xattrs: map[string][]byte{"user.only": []byte("attr")}},
		}},
		{"xattrs as root", true, testtree.Spec{
			{Path: "f", Data: []byte("x"), Xattrs: map[string][]byte{"trusted.t": {0, 0xff}, "user.u": []byte("u")}},
			{Path: "link", Type: tree.Symlink, Target: "f", Xattrs: map[string][]byte{"trusted.on-link": []byte("l")}},
			{Path: "fifo", Type: tree.Fifo, Xattrs: map[string][]byte{"trusted.on-fifo": nil}},
			{Path: "dev", Type: tree.CharDev, Rdev: unix.Mkdev(1, 3), Xattrs: map[string][]byte{"trusted.on-dev": {1}}},
			{Path: "suid", Data: []byte("x"), Mode: 0o4755, Owner: &testtree.Owner{UID: 5, GID: 5},
				Xattrs: map[string][]byte{"trusted.kept-after-chown": []byte("y")}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.root && !isRoot() {
				t.Skip("needs root")
			}
			buildTrip(t, tc.spec)
		})
	}
}

// TestSymlinksNotFollowed backs up links to a large file, to a directory and
// a backup path that is itself a link: none is read or descended into.
func TestSymlinksNotFollowed(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	testtree.Build(t, outside, testtree.Spec{
		{Path: "big", Data: make([]byte, 1<<20)},
		{Path: "dir/inner", Data: []byte("not to be backed up")},
	})
	spec := testtree.Spec{
		{Path: "to-file", Type: tree.Symlink, Target: filepath.Join(outside, "big")},
		{Path: "to-dir", Type: tree.Symlink, Target: filepath.Join(outside, "dir")},
		{Path: "rel-dir", Type: tree.Symlink, Target: "sub"},
		{Path: "sub/f", Data: []byte("12345")},
	}
	r, src, a, res := buildTrip(t, spec)
	if got := a.Stats.BytesRead.Load(); got != 5 {
		t.Errorf("BytesRead %d, want 5: a symbolic link was followed", got)
	}
	if got := a.Stats.TotalFiles.Load(); got != 1 {
		t.Errorf("TotalFiles %d, want 1", got)
	}
	root := r.Snapshot(t, res.Snapshot).Tree
	for _, p := range []string{"to-file", "to-dir", "rel-dir"} {
		n := r.Node(t, root, "src/"+p)
		if n.Type != tree.Symlink || len(n.Subtrees) > 0 || len(n.Content) > 0 {
			t.Errorf("%s stored as %s with %d subtrees and %d extents", p, n.Type, len(n.Subtrees), len(n.Content))
		}
	}

	// A backup path that is a symbolic link is stored as that link.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(src, link); err != nil {
		t.Fatal(err)
	}
	a, res = r.Backup(t, archiver.Options{}, link)
	if n := r.Node(t, r.Snapshot(t, res.Snapshot).Tree, "link"); n.Type != tree.Symlink || string(n.LinkTarget) != src {
		t.Errorf("backup path link stored as %s -> %q", n.Type, n.LinkTarget)
	}
	if got := a.Stats.BytesRead.Load(); got != 0 {
		t.Errorf("BytesRead %d backing up a link", got)
	}
}

// TestBigDirectory checks that a directory of 20,000 entries is split into
// several tree blobs and restored whole. Most entries are hard links, in
// groups of 100, since creating inodes is what makes such a test slow.
func TestBigDirectory(t *testing.T) {
	t.Parallel()
	spec := testtree.Spec{{Path: "big", Type: tree.Dir, MTime: 99}}
	var first string
	for i := range 20000 {
		e := testtree.Entry{Path: fmt.Sprintf("big/%05d-%s", i, strings.Repeat("n", 40)), Data: []byte(fmt.Sprint(i))}
		if i%100 == 0 {
			first = e.Path
		} else {
			e = testtree.Entry{Path: e.Path, Link: first}
		}
		spec = append(spec, e)
	}
	spec = append(spec, testtree.Entry{Path: "big/sub/f", Data: []byte("in a subdirectory after the split")})
	r, _, a, res := buildTrip(t, spec)
	n := r.Node(t, r.Snapshot(t, res.Snapshot).Tree, "src/big")
	if len(n.Subtrees) < 2 {
		t.Errorf("a directory of 20001 entries is stored in %d tree blob(s), want several", len(n.Subtrees))
	}
	if got := a.Stats.TotalFiles.Load(); got != 20001 {
		t.Errorf("TotalFiles %d, want 20001", got)
	}
	r.Node(t, r.Snapshot(t, res.Snapshot).Tree, "src/big/sub/f")
}

// TestMultiplePaths backs up two directories and a file from different
// places in one snapshot.
func TestMultiplePaths(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	one, two, file := filepath.Join(base, "x", "one"), filepath.Join(base, "y", "two"), filepath.Join(base, "z", "file")
	testtree.Random(t, one, 11, testtree.Options{Entries: 50})
	testtree.Random(t, two, 12, testtree.Options{Entries: 50})
	testtree.Build(t, filepath.Dir(file), testtree.Spec{{Path: "file", Data: []byte("a lone file"), Mode: 0o4711, MTime: -5}})
	r := testrepo.New(t)
	_, res := r.Backup(t, archiver.Options{}, one, two, file)
	if len(res.Warnings) > 0 {
		t.Fatalf("warnings: %v", res.Warnings)
	}
	dst := t.TempDir()
	r.MustRestore(t, res.Snapshot, dst)
	lone := func(dir string) testtree.Tree { return testtree.Tree{"file": testtree.MustScan(t, dir)["file"]} }
	if d := testtree.Diff(lone(filepath.Dir(file)), lone(dst)); len(d) > 0 {
		t.Errorf("the lone file: %q", d)
	}
	testtree.Compare(t, one, filepath.Join(dst, "one"))
	testtree.Compare(t, two, filepath.Join(dst, "two"))
	names, err := os.ReadDir(dst)
	if err != nil || len(names) != 3 {
		t.Errorf("target holds %v (%v), want one, two and file", names, err)
	}

	// Two paths with the same base name cannot share the snapshot root.
	twin := filepath.Join(base, "w", "one")
	testtree.Build(t, twin, nil)
	if _, err := archiver.New(r.Repo, archiver.Options{}).Run(t.Context(), []string{one, twin}); err == nil {
		t.Error("two backup paths named one were accepted")
	}
}

// TestExcludes checks base-name and absolute-path patterns: an excluded
// directory is not descended into, and nothing else is left out.
func TestExcludes(t *testing.T) {
	t.Parallel()
	full := testtree.Spec{
		{Path: "keep.txt", Data: []byte("k")},
		{Path: "drop.tmp", Data: []byte("d")},
		{Path: "a/drop.tmp", Data: []byte("d")},
		{Path: "a/keep.tmpx", Data: []byte("k")},
		{Path: "a/cache", Type: tree.Dir},
		{Path: "a/cache/f", Data: []byte("d")},
		{Path: "b", Type: tree.Dir, MTime: 1},
		{Path: "b/cache", Data: []byte("d: a file named cache is excluded too")},
		{Path: "logs/x.log", Data: []byte("d")},
		{Path: "logs/keep/x.log", Data: []byte("k: full-path * stops at /")},
		{Path: "other/logs/x.log", Data: []byte("k")},
	}
	excluded := func(p string) bool {
		return strings.HasSuffix(p, ".tmp") || strings.Contains(p+"/", "cache/") || p == "logs/x.log"
	}
	var want testtree.Spec
	for _, e := range full {
		if !excluded(e.Path) {
			want = append(want, e)
		}
	}
	src, wantDir := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "src")
	testtree.Build(t, src, full)
	testtree.Build(t, wantDir, want)
	r := testrepo.New(t)
	_, res := r.Backup(t, archiver.Options{Filter: archiver.Filter{Patterns: patterns(t, "*.tmp", "cache", filepath.Join(src, "logs", "*.log"))}}, src)
	dst := t.TempDir()
	r.MustRestore(t, res.Snapshot, dst)
	testtree.Compare(t, wantDir, filepath.Join(dst, "src"))
}

// TestReadOnlyHardLinks restores a read-only file with an attribute and a
// second hard link to it. Root may set attributes on any file; others need
// write permission, which the first link's metadata has already removed.
func TestReadOnlyHardLinks(t *testing.T) {
	t.Parallel()
	buildTrip(t, testtree.Spec{
		{Path: "f", Data: []byte("x"), Mode: 0o400, Xattrs: map[string][]byte{"user.x": []byte("v")}},
		{Path: "d/g", Link: "f"},
	})
}

// TestDescriptorsBounded backs up a tree 300 directories deep, each
// holding files, under a limit of 64 open descriptors: a directory is held
// open for its files' jobs but not while the walk descends below it, so
// the directories open at once do not grow with depth. Every descriptor
// opened is closed again.
func TestDescriptorsBounded(t *testing.T) {
	var spec testtree.Spec
	p := ""
	for i := range 300 {
		p += "d"
		spec = append(spec, testtree.Entry{Path: p, Type: tree.Dir})
		for j := range 3 {
			spec = append(spec, testtree.Entry{Path: fmt.Sprintf("%s/f%d", p, j), Data: []byte(fmt.Sprint(i, j))})
		}
		p += "/"
	}
	src := filepath.Join(t.TempDir(), "src")
	testtree.Build(t, src, spec)
	r := testrepo.New(t)
	must(t, r.LoadIndex(context.Background()))
	before := openDescriptors(t)
	var old unix.Rlimit
	must(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &old))
	low := unix.Rlimit{Cur: 64, Max: old.Max}
	must(t, unix.Setrlimit(unix.RLIMIT_NOFILE, &low))
	a, res := r.Backup(t, archiver.Options{Workers: 2, Walkers: 1}, src)
	must(t, unix.Setrlimit(unix.RLIMIT_NOFILE, &old))
	if len(res.Warnings) > 0 {
		t.Fatalf("%d warnings under 64 descriptors, the first: %v", len(res.Warnings), res.Warnings[0])
	}
	if got := a.Stats.FilesNew.Load(); got != 900 {
		t.Errorf("FilesNew %d, want 900", got)
	}
	if after := openDescriptors(t); after != before {
		t.Errorf("%d descriptors open after the backup, %d before", after, before)
	}
	dst := t.TempDir()
	r.MustRestore(t, res.Snapshot, dst)
	testtree.Compare(t, src, filepath.Join(dst, "src"))
}

// openDescriptors returns the number of this process's open descriptors.
func openDescriptors(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	must(t, err)
	return len(ents)
}
