package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/storetest"
)

// newStore creates a store in a fresh temporary directory.
func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := Create(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return newStore(t) })
}

// TestLayoutVectors checks testdata/paths.txt: each valid object lands at its
// path, each invalid one is rejected.
func TestLayoutVectors(t *testing.T) {
	s := newStore(t)
	for _, v := range storetest.ReadVectors(t, "testdata/paths.txt") {
		err := s.Put(context.Background(), v.Kind, v.Name, strings.NewReader("v"), 1)
		if v.Path == "invalid" {
			if err == nil {
				t.Errorf("%s/%s: accepted", v.Kind, v.Name)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s/%s: %v", v.Kind, v.Name, err)
		}
		if got := objectPath(v.Kind, v.Name); got != v.Path {
			t.Errorf("%s/%s: path %s, want %s", v.Kind, v.Name, got, v.Path)
		}
		if _, err := os.Lstat(filepath.Join(s.dir, v.Path)); err != nil {
			t.Errorf("%s/%s: %v", v.Kind, v.Name, err)
		}
	}
}

// FuzzObjectPath checks that every valid kind and name maps to a path inside
// its kind's directory whose last element is the name.
func FuzzObjectPath(f *testing.F) {
	for _, v := range storetest.ReadVectors(f, "testdata/paths.txt") {
		f.Add(string(v.Kind), v.Name)
	}
	f.Fuzz(func(t *testing.T, kind, name string) {
		if store.CheckName(store.Kind(kind), name) != nil {
			return
		}
		p := objectPath(store.Kind(kind), name)
		depth := strings.Count(p, "/")
		if !filepath.IsLocal(p) || path.Clean(p) != p || !strings.HasPrefix(p, kind+"/") ||
			path.Base(p) != name || depth < 1 || depth > 2 || (depth == 2) != (kind == "packs") {
			t.Errorf("%s/%s maps to %q", kind, name, p)
		}
	})
}

func TestCreate(t *testing.T) {
	tmp := t.TempDir()
	mustWrite(t, filepath.Join(tmp, "full", "f"), "x")
	mustWrite(t, filepath.Join(tmp, "file"), "x")
	if err := os.Mkdir(filepath.Join(tmp, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		dir string
		ok  bool
	}{
		{"new/nested", true}, {"empty", true}, {"full", false}, {"file", false},
	}
	for _, tc := range tests {
		dir := filepath.Join(tmp, tc.dir)
		_, err := Create(dir)
		if (err == nil) != tc.ok {
			t.Errorf("Create %s: got %v, want success %v", tc.dir, err, tc.ok)
		}
		if _, oerr := Open(dir); tc.ok && oerr != nil {
			t.Errorf("Open after Create %s: %v", tc.dir, oerr)
		}
	}
	if _, err := os.Stat(filepath.Join(tmp, "full", "packs")); err == nil {
		t.Error("Create added to a non-empty directory")
	}
}

func TestOpenRejects(t *testing.T) {
	tmp := t.TempDir()
	s := newStore(t)
	if err := os.Remove(filepath.Join(s.dir, "prune")); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(tmp, "file"), "x")
	mustWrite(t, filepath.Join(tmp, "home", "config"), "x")
	tests := []struct {
		dir, mention string
		is           error
	}{
		{s.dir, `no "prune" directory`, ErrNotStore},
		{filepath.Join(tmp, "home"), "not a Coffer store", ErrNotStore},
		{filepath.Join(tmp, "file"), "not a directory", ErrNotStore},
		{filepath.Join(tmp, "missing"), "missing", fs.ErrNotExist},
	}
	for _, tc := range tests {
		_, err := Open(tc.dir)
		if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.mention) || !strings.Contains(err.Error(), tc.dir) {
			t.Errorf("Open %s: got %v, want %v mentioning %q and the directory", tc.dir, err, tc.is, tc.mention)
		}
	}
}

// TestTempCleanup checks that Open removes only temp files older than a day.
func TestTempCleanup(t *testing.T) {
	s := newStore(t)
	now := time.Now()
	ages := map[string]time.Duration{
		"put-old": 25 * time.Hour, "put-days": 30 * 24 * time.Hour,
		"put-young": 23 * time.Hour, "put-fresh": 0,
	}
	tmp := filepath.Join(s.dir, tmpDir)
	for name, age := range ages {
		p := filepath.Join(tmp, name)
		mustWrite(t, p, "partial")
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	oldDir := filepath.Join(tmp, "old-dir")
	if err := os.Mkdir(oldDir, dirPerm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(oldDir, now.Add(-48*time.Hour), now.Add(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(s.dir); err != nil {
		t.Fatal(err)
	}
	for name, age := range ages {
		_, err := os.Stat(filepath.Join(tmp, name))
		if kept := err == nil; kept != (age < tempMaxAge) {
			t.Errorf("%s (age %v): kept %v", name, age, kept)
		}
	}
	if _, err := os.Stat(oldDir); err != nil {
		t.Errorf("cleaning removed a directory: %v", err)
	}
}

// TestPermissions checks that objects are read-only and directories private.
func TestPermissions(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	for _, kind := range []store.Kind{store.Packs, store.Index} {
		if err := s.Put(ctx, kind, "abcdef", strings.NewReader("data"), 4); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]fs.FileMode{
		".": fs.ModeDir | dirPerm, "packs": fs.ModeDir | dirPerm, "packs/ab": fs.ModeDir | dirPerm,
		"tmp": fs.ModeDir | dirPerm, "packs/ab/abcdef": objectPerm, "index/abcdef": objectPerm,
	}
	for rel, mode := range want {
		fi, err := os.Lstat(filepath.Join(s.dir, rel))
		if err != nil || fi.Mode() != mode {
			t.Errorf("%s: mode %v (%v), want %v", rel, fi.Mode(), err, mode)
		}
	}
}

// TestListSkipsJunk checks that List ignores, and is not broken by, files
// that are not objects where they are.
func TestListSkipsJunk(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	for _, kind := range []store.Kind{store.Packs, store.Index} {
		if err := s.Put(ctx, kind, "abcd", strings.NewReader("real"), 4); err != nil {
			t.Fatal(err)
		}
	}
	for _, junk := range []string{
		"packs/stray", "packs/cd/abcd", "packs/ab/Upper", "packs/ab/.nfs0001", "packs/zz/zzjunk/x",
		"index/README.TXT", "index/sub/abcd", "tmp/put-123", "junk-at-root",
	} {
		mustWrite(t, filepath.Join(s.dir, junk), "junk")
	}
	if err := os.Symlink("abcd", filepath.Join(s.dir, "index", "link")); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []store.Kind{store.Packs, store.Index} {
		var got []store.ObjectInfo
		err := s.List(ctx, kind, func(oi store.ObjectInfo) error { got = append(got, oi); return nil })
		if err != nil || len(got) != 1 || got[0] != (store.ObjectInfo{Name: "abcd", Size: 4}) {
			t.Errorf("List %s: got %v, %v", kind, got, err)
		}
	}
	if _, err := s.Stat(ctx, store.Index, "link"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("Stat of a symlink: got %v, want a not-a-regular-file error", err)
	}
	if _, err := s.Get(ctx, store.Index, "link", 0, -1); err == nil {
		t.Error("Get followed a symlink")
	}
}

// TestShortObject checks that a Get reader reports an object that shrinks
// under it as truncated, naming the object.
func TestShortObject(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if err := s.Put(ctx, store.Index, "shrinks", strings.NewReader(strings.Repeat("x", 1000)), 1000); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Get(ctx, store.Index, "shrinks", 100, 800)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	p := filepath.Join(s.dir, "index", "shrinks")
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, 500); err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, rc)
	if n != 400 || !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "index/shrinks") {
		t.Errorf("got %d bytes, %v; want 400 and io.ErrUnexpectedEOF naming the object", n, err)
	}
}

// TestLinkNoReplace checks the fallback publisher used where renameat2's
// RENAME_NOREPLACE is missing.
func TestLinkNoReplace(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	mustWrite(t, src, "first")
	if err := linkNoReplace(src, dst); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(src); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("source left behind: %v", err)
	}
	mustWrite(t, src, "second")
	if err := linkNoReplace(src, dst); !errors.Is(err, fs.ErrExist) {
		t.Errorf("publishing over dst: got %v, want fs.ErrExist", err)
	}
	if b, err := os.ReadFile(dst); err != nil || string(b) != "first" {
		t.Errorf("dst: got %q, %v; want \"first\"", b, err)
	}
}

// TestInvalidNamesTouchNothing checks that rejected calls leave every file
// in and around the store as it was.
func TestInvalidNamesTouchNothing(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if err := s.Put(ctx, store.Index, "x", strings.NewReader("safe"), 4); err != nil {
		t.Fatal(err)
	}
	parent := filepath.Dir(s.dir)
	before := tree(t, parent)
	for _, v := range storetest.ReadVectors(t, "testdata/paths.txt") {
		if v.Path != "invalid" {
			continue
		}
		_ = s.Put(ctx, v.Kind, v.Name, strings.NewReader("evil"), 4)
		_ = s.Delete(ctx, v.Kind, v.Name)
		_ = s.Delete(ctx, v.Kind, "../index/x")
	}
	if after := tree(t, parent); after != before {
		t.Errorf("files changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// tree describes every file under root with its size.
func tree(t *testing.T, root string) string {
	var b strings.Builder
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %d\n", p, fi.Mode(), fi.Size())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// mustWrite writes a file, creating its directory.
func mustWrite(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkPut(b *testing.B) {
	for _, size := range []int{4 << 10, 1 << 20, 16 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			s, err := Create(filepath.Join(b.TempDir(), "store"))
			if err != nil {
				b.Fatal(err)
			}
			data := randomBytes(1, size)
			b.SetBytes(int64(size))
			for i := 0; b.Loop(); i++ {
				name := fmt.Sprintf("%064x", i)
				if err := s.Put(context.Background(), store.Packs, name, bytes.NewReader(data), int64(size)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkGet(b *testing.B) {
	const size = 16 << 20
	s, err := Create(filepath.Join(b.TempDir(), "store"))
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Put(context.Background(), store.Packs, "big", bytes.NewReader(randomBytes(1, size)), size); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	for b.Loop() {
		rc, err := s.Get(context.Background(), store.Packs, "big", 0, -1)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			b.Fatal(err)
		}
		rc.Close()
	}
}
