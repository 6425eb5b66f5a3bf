package browse_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/coffer-backup/coffer/internal/account"
	"github.com/coffer-backup/coffer/internal/archiver"
	"github.com/coffer-backup/coffer/internal/browse"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/local"
)

var ctx = context.Background()

// fixture is an account in a local store with one recorded snapshot of
// src, as 'coffer backup' leaves it.
type fixture struct {
	st    *local.Store
	r     *repo.Repo
	chain *account.Chain
	src   string
	big   []byte
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{src: filepath.Join(t.TempDir(), "home"), big: make([]byte, 9<<20+123)}
	if _, err := rand.Read(f.big); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(f.src, "docs", "note.txt"), []byte("hello, browser\n"))
	write(t, filepath.Join(f.src, "docs", "big.bin"), f.big)
	write(t, filepath.Join(f.src, "a.txt"), []byte("a"))
	write(t, filepath.Join(f.src, "Zed", "empty"), nil)
	var err error
	if f.st, err = local.Create(filepath.Join(t.TempDir(), "store")); err != nil {
		t.Fatal(err)
	}
	dev, err := keys.NewDevice("laptop")
	if err != nil {
		t.Fatal(err)
	}
	r, created, err := repo.Create(ctx, f.st, dev)
	if err != nil {
		t.Fatal(err)
	}
	f.r = r
	t.Cleanup(r.Close)
	if f.chain, err = account.FirstUse(ctx, store.ChainOf(f.st), created.Account); err != nil {
		t.Fatal(err)
	}
	if err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := archiver.New(r, archiver.Options{Hostname: "laptop"}).Run(ctx, []string{f.src})
	if err != nil {
		t.Fatal(err)
	}
	if f.chain, err = account.RecordSnapshot(ctx, f.st, f.chain, dev, res.Snapshot); err != nil {
		t.Fatal(err)
	}
	return f
}

func write(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// readOnly opens f's repository again with its read keys alone, as a
// browser session does.
func (f *fixture) readOnly(t *testing.T) *repo.Repo {
	t.Helper()
	rk, err := f.r.ReadKeys()
	if err != nil {
		t.Fatal(err)
	}
	ro, err := repo.OpenRead(ctx, f.st, f.chain.Chain, rk)
	rk.Zero()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ro.Close)
	return ro
}

// TestBrowse lists, descends and reads a file through a repository opened
// by the device and through one opened with the read keys alone.
func TestBrowse(t *testing.T) {
	f := newFixture(t)
	for name, r := range map[string]*repo.Repo{"device": f.r, "read keys": f.readOnly(t)} {
		t.Run(name, func(t *testing.T) {
			b := browse.New(r, f.chain, func(err error) { t.Errorf("warning: %v", err) })
			snaps, err := b.Snapshots(ctx)
			if err != nil || len(snaps) != 1 {
				t.Fatalf("snapshots: %v, %d", err, len(snaps))
			}
			if snaps[0].Hostname != "laptop" || snaps[0].DeviceName != "laptop" || snaps[0].Files != 4 {
				t.Errorf("snapshot row %+v", snaps[0])
			}
			root := "/home"
			l, err := b.List(ctx, snaps[0].ID, root)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(l); got != "Zed docs a.txt" {
				t.Errorf("entries of %s: %q, want folders first, then by name", root, got)
			}
			l, err = b.List(ctx, snaps[0].Short, root+"/docs/")
			if err != nil || names(l) != "big.bin note.txt" || l.Entries[0].Size != uint64(len(f.big)) {
				t.Fatalf("docs: %v %+v", err, l)
			}
			checkContent(t, b, "latest", root+"/docs/big.bin", f.big)
			checkContent(t, b, snaps[0].ID, root+"/docs/note.txt", []byte("hello, browser\n"))
			checkRead(t, b, root+"/docs/big.bin", f.big)
			if ds := b.Devices(ctx); len(ds) != 1 || ds[0].Name != "laptop" || ds[0].Rights != "full" {
				t.Errorf("devices: %+v", ds)
			}
		})
	}
}

func names(l *browse.Listing) string {
	var s []byte
	for i, e := range l.Entries {
		if i > 0 {
			s = append(s, ' ')
		}
		s = append(s, e.Name...)
	}
	return string(s)
}

// checkContent copies the file as the HTTP API does (io.Copy, so WriteTo).
func checkContent(t *testing.T, b *browse.Browser, ref, p string, want []byte) {
	t.Helper()
	fl, err := b.Open(ctx, ref, p)
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	h := sha256.New()
	n, err := io.Copy(h, fl)
	if err != nil || n != int64(len(want)) || fl.Size != uint64(len(want)) || !bytes.Equal(h.Sum(nil), sum(want)) {
		t.Fatalf("%s: %v, %d bytes of %d (size %d), digest equal %v", p, err, n, len(want), fl.Size, bytes.Equal(h.Sum(nil), sum(want)))
	}
}

// checkRead reads the file through Read, in small pieces, closing it
// half-way through a second time.
func checkRead(t *testing.T, b *browse.Browser, p string, want []byte) {
	t.Helper()
	fl, err := b.Open(ctx, "latest", p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(struct{ io.Reader }{fl})
	fl.Close()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Read: %v, equal %v", err, bytes.Equal(got, want))
	}
	fl, err = b.Open(ctx, "latest", p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(fl, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	fl.Close()
	if _, err := fl.Read(make([]byte, 10)); err == nil {
		t.Error("Read after Close succeeded")
	}
}

func sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

// TestBrowseErrors: what names nothing, a folder opened as a file, a file
// listed as a folder.
func TestBrowseErrors(t *testing.T) {
	f := newFixture(t)
	b := browse.New(f.readOnly(t), f.chain, nil)
	for _, c := range []struct {
		name string
		do   func() error
		want error
	}{
		{"no such snapshot", func() error { _, err := b.List(ctx, "ffffffff", "/"); return err }, browse.ErrNotFound},
		{"no such path", func() error { _, err := b.List(ctx, "latest", "/home/nope"); return err }, browse.ErrNotFound},
		{"file listed", func() error { _, err := b.List(ctx, "latest", "/home/a.txt"); return err }, browse.ErrNotDir},
		{"folder opened", func() error { _, err := b.Open(ctx, "latest", "/home/docs"); return err }, browse.ErrNotFile},
	} {
		if err := c.do(); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}
