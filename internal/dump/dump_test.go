//go:build linux

package dump_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/coffer-backup/coffer/internal/archiver"
	"github.com/coffer-backup/coffer/internal/dump"
	"github.com/coffer-backup/coffer/internal/testtree"
	"github.com/coffer-backup/coffer/internal/testtree/testrepo"
	"github.com/coffer-backup/coffer/internal/tree"
	"github.com/coffer-backup/coffer/internal/treewalk"
)

var ctx = context.Background()

var tarTypes = map[byte]tree.NodeType{
	tar.TypeReg: tree.File, tar.TypeDir: tree.Dir, tar.TypeSymlink: tree.Symlink, tar.TypeFifo: tree.Fifo,
	tar.TypeChar: tree.CharDev, tar.TypeBlock: tree.BlockDev,
}

// readTar records an archive as testtree.Scan records a tree, names taken
// relative to top; a file's Sum is the SHA-256 of its whole content.
func readTar(t *testing.T, r io.Reader, top string) (testtree.Tree, int) {
	t.Helper()
	tr := tar.NewReader(r)
	out := testtree.Tree{}
	links := 0
	rel := func(name string) string {
		name = strings.TrimSuffix(name, "/")
		if name == top {
			return "."
		}
		return strings.TrimPrefix(name, top+"/")
	}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out, links
		}
		if err != nil {
			t.Fatal(err)
		}
		p := rel(hdr.Name)
		if hdr.Typeflag == tar.TypeLink {
			out[p] = out[rel(hdr.Linkname)]
			links++
			continue
		}
		it := testtree.Item{Type: tarTypes[hdr.Typeflag], Mode: uint32(hdr.Mode) & 0o7777, UID: uint32(hdr.Uid),
			GID: uint32(hdr.Gid), MTime: hdr.ModTime.UnixNano(), Link: p}
		switch it.Type {
		case tree.File:
			it.Size = hdr.Size
			h := sha256.New()
			if _, err := io.Copy(h, tr); err != nil {
				t.Fatal(err)
			}
			h.Sum(it.Sum[:0])
		case tree.Symlink:
			it.Target = hdr.Linkname
		case tree.CharDev, tree.BlockDev:
			it.Rdev = unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		}
		for k, v := range hdr.PAXRecords {
			if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
				it.Xattrs = append(it.Xattrs, tree.Xattr{Name: name, Value: []byte(v)})
			}
		}
		slices.SortFunc(it.Xattrs, func(a, b tree.Xattr) int { return strings.Compare(a.Name, b.Name) })
		if it.Type == tree.Dir {
			it.Link = ""
		}
		out[p] = it
	}
}

// scan records the tree at dir with each file's Sum the SHA-256 of its
// whole content, holes read as zeros, as an archive holds it.
func scan(t *testing.T, dir string) testtree.Tree {
	t.Helper()
	tr := testtree.MustScan(t, dir)
	for p, it := range tr {
		if it.Type == tree.File {
			b, err := os.ReadFile(filepath.Join(dir, p))
			if err != nil {
				t.Fatal(err)
			}
			it.Sum, it.Ranges = sha256.Sum256(b), nil
		}
		tr[p] = it
	}
	return tr
}

// TestTarRandomTrees dumps random trees and compares every entry of the
// archive with the original: names (any bytes, up to 255 long), types,
// modes, owners, times, sizes, content, link targets, devices,
// attributes, and hard links written once.
func TestTarRandomTrees(t *testing.T) {
	for _, tc := range []struct {
		seed uint64
		opts testtree.Options
	}{
		{1, testtree.Options{}},
		{2, testtree.Options{Privileged: true, Entries: 400, MaxDepth: 10}},
		{3, testtree.Options{Privileged: true, Entries: 60, MaxSize: 3 << 20, MaxHoles: 16 << 20}},
	} {
		t.Run(fmt.Sprint(tc.seed), func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "src")
			testtree.Random(t, src, tc.seed, tc.opts)
			r := testrepo.New(t)
			_, res := r.Backup(t, archiver.Options{}, src)
			sn := r.Snapshot(t, res.Snapshot)
			var buf bytes.Buffer
			var warned []error
			err := dump.Tar(ctx, r.Reopen(t), treewalk.RootOf(sn), "/src", &buf, func(err error) { warned = append(warned, err) })
			if err != nil {
				t.Fatal(err)
			}
			want, unfit := scan(t, src), 0
			for p, it := range want { // tar holds no sockets, and no '=' in attribute names
				if it.Type == tree.Socket {
					delete(want, p)
					unfit++
					continue
				}
				n := len(it.Xattrs)
				it.Xattrs = slices.DeleteFunc(it.Xattrs, func(x tree.Xattr) bool { return strings.Contains(x.Name, "=") })
				unfit += n - len(it.Xattrs)
				want[p] = it
			}
			got, links := readTar(t, &buf, "src")
			if d := testtree.Diff(want, got); len(d) > 0 {
				t.Errorf("%d differences:\n%s", len(d), strings.Join(d[:min(len(d), 20)], "\n"))
			}
			if len(warned) != unfit {
				t.Errorf("%d warnings for %d sockets and attributes: %q", len(warned), unfit, warned)
			}
			t.Logf("%d entries, %d of them hard links, %d sockets and attributes left out", len(got), links, unfit)
		})
	}
}

// TestTarPaths names entries relative to the directory holding the path
// dumped.
func TestTarPaths(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	testtree.Build(t, src, testtree.Spec{{Path: "a/b/f", Data: []byte("x")}, {Path: "a/l", Type: tree.Symlink, Target: "b/f"}})
	r := testrepo.New(t)
	_, res := r.Backup(t, archiver.Options{}, src)
	sn := r.Snapshot(t, res.Snapshot)
	for at, want := range map[string][]string{
		"/":        {"src/", "src/a/", "src/a/b/", "src/a/b/f", "src/a/l"},
		"/src/a":   {"a/", "a/b/", "a/b/f", "a/l"},
		"src/a/b":  {"b/", "b/f"},
		"/src/a/l": {"l"},
	} {
		var buf bytes.Buffer
		if err := dump.Tar(ctx, r.Reopen(t), treewalk.RootOf(sn), at, &buf, func(err error) { t.Error(err) }); err != nil {
			t.Fatal(err)
		}
		var names []string
		tr := tar.NewReader(&buf)
		for hdr, err := tr.Next(); err != io.EOF; hdr, err = tr.Next() {
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, hdr.Name)
		}
		if !slices.Equal(names, want) {
			t.Errorf("dump of %s: %q, want %q", at, names, want)
		}
	}
	err := dump.Tar(ctx, r.Reopen(t), treewalk.RootOf(sn), "/src/none", io.Discard, func(error) {})
	if !errors.Is(err, treewalk.ErrNotFound) {
		t.Errorf("a missing path: %v", err)
	}
}

// TestTarHostile refuses a snapshot whose trees expand to 2^42 items
// before writing anything, quickly and in little memory.
func TestTarHostile(t *testing.T) {
	r := testrepo.New(t)
	sn := r.DoublingSnapshot(t, 40)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var buf bytes.Buffer
	err := dump.Tar(ctx, r.Reopen(t), treewalk.RootOf(sn), "/", &buf, func(error) {})
	runtime.ReadMemStats(&after)
	if !errors.Is(err, treewalk.ErrBudget) || buf.Len() != 0 {
		t.Errorf("got %v after writing %d bytes", err, buf.Len())
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Errorf("refusing took %d MB", alloc>>20)
	}
}
