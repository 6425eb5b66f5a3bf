package checker_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/coffer-backup/coffer/internal/archiver"
	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/restorer"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/local"
)

var ctx = context.Background()

// base is a repository made once by the real archiver, which every test
// copies before it damages it: two snapshots of a small tree of files,
// directories and a symlink, the second after changes.
var base struct {
	dir       string // holds store/ and the sources
	dev       *keys.Device
	recovery  *keys.RecoveryKey
	account   string
	commit    [32]byte            // of the root key of epoch 0, the only one
	snapshots []blob.ID           // oldest first
	states    []map[string]string // what each snapshot must restore to, see describe
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "checker-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	err = makeBase(dir)
	code := 1
	if err == nil {
		code = m.Run()
	} else {
		fmt.Fprintln(os.Stderr, "making the test repository:", err)
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func makeBase(dir string) error {
	base.dir = dir
	st, err := local.Create(filepath.Join(dir, "store"))
	if err != nil {
		return err
	}
	if base.dev, err = keys.NewDevice("test"); err != nil {
		return err
	}
	r, created, err := repo.Create(ctx, st, base.dev)
	if err != nil {
		return err
	}
	defer r.Close()
	base.recovery, base.account = created.RecoveryKey, created.Account
	base.commit, _ = r.Chain().Commitment(0)
	src := filepath.Join(dir, "src")
	random := make([]byte, 300<<10)
	rand.Read(random)
	steps := []func() error{
		func() error {
			return writeFiles(src, map[string][]byte{
				"a.txt": bytes.Repeat([]byte("first version of a\n"), 500), "b.bin": random,
				"d1/c.txt": []byte("c"), "d1/d2/e.txt": []byte("e"), "empty.txt": nil,
			})
		},
		func() error {
			if err := os.Remove(filepath.Join(src, "empty.txt")); err != nil {
				return err
			}
			return writeFiles(src, map[string][]byte{
				"a.txt": bytes.Repeat([]byte("second version of a\n"), 500), "d1/new.txt": []byte("new"),
			})
		},
	}
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	if err := os.Symlink("a.txt", filepath.Join(src, "link")); err != nil {
		return err
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
		res, err := archiver.New(r, archiver.Options{Hostname: "h"}).Run(ctx, []string{src})
		if err != nil {
			return err
		}
		if len(res.Warnings) > 0 {
			return fmt.Errorf("backup warnings: %v", res.Warnings)
		}
		state, err := describe(src)
		if err != nil {
			return err
		}
		base.snapshots = append(base.snapshots, res.Snapshot)
		base.states = append(base.states, state)
	}
	return nil
}

func writeFiles(root string, files map[string][]byte) error {
	for name, b := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// describe maps every item below root to its type and content.
func describe(root string) (map[string]string, error) {
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			m[rel] = "symlink " + target
			return err
		case d.IsDir():
			m[rel] = "dir"
		default:
			b, err := os.ReadFile(p)
			m[rel] = "file " + string(b)
			return err
		}
		return nil
	})
	return m, err
}

// copyStore copies the base store into a fresh directory, keeping the
// objects read-only as the local store makes them, and returns its path.
func copyStore(t *testing.T) string {
	t.Helper()
	from := filepath.Join(base.dir, "store")
	to := filepath.Join(t.TempDir(), "store")
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o444)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, in)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return to
}

// objectPath is where the local store keeps kind/name (docs/format.md
// §4.3): packs in a shard directory named by the first two characters.
func objectPath(dir string, kind store.Kind, name string) string {
	if kind == store.Packs {
		return filepath.Join(dir, string(kind), name[:2], name)
	}
	return filepath.Join(dir, string(kind), name)
}

// objectNames lists the objects of a kind in a store directory.
func objectNames(t *testing.T, dir string, kind store.Kind) []string {
	t.Helper()
	st, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	if err := st.List(ctx, kind, func(oi store.ObjectInfo) error { names = append(names, oi.Name); return nil }); err != nil {
		t.Fatal(err)
	}
	return names
}

func openRepo(dir string) (*repo.Repo, error) {
	st, err := local.Open(dir)
	if err != nil {
		return nil, err
	}
	return repo.Open(ctx, st, base.dev)
}

// openRecovery opens the store in dir with the recovery key.
func openRecovery(dir string) (*repo.Repo, error) {
	st, err := local.Open(dir)
	if err != nil {
		return nil, err
	}
	entries, err := store.ReadChain(ctx, store.ChainOf(st), 0)
	if err != nil {
		return nil, err
	}
	chain, err := devices.Verify(base.account, entries)
	if err != nil {
		return nil, err
	}
	return repo.OpenRecovery(ctx, st, base.recovery, chain)
}

func mustOpen(t *testing.T, dir string) *repo.Repo {
	t.Helper()
	r, err := openRepo(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// rewrite replaces the bytes of a read-only object file.
func rewrite(t *testing.T, path string, f func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, f(b), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o444); err != nil {
		t.Fatal(err)
	}
}

// swap exchanges the contents of two object files by renaming them.
func swap(t *testing.T, a, b string) {
	t.Helper()
	tmp := a + ".swap"
	for _, mv := range [][2]string{{a, tmp}, {b, a}, {tmp, b}} {
		if err := os.Rename(mv[0], mv[1]); err != nil {
			t.Fatal(err)
		}
	}
}

// restoreAll restores every snapshot of the base repository from the
// store in dir, in a fresh handle. Each must either fail with an error or
// restore exactly what was backed up: damage may stop a restore, never
// alter what it writes. It returns how many restores failed.
func restoreAll(t *testing.T, dir string) int {
	t.Helper()
	r, err := openRepo(dir)
	if err != nil {
		t.Logf("open: %v", err)
		return len(base.snapshots)
	}
	defer r.Close()
	if err := r.LoadIndex(ctx); err != nil {
		t.Logf("load index: %v", err)
		return len(base.snapshots)
	}
	failed := 0
	for i, id := range base.snapshots {
		sn, err := r.LoadSnapshot(ctx, id)
		if err != nil {
			t.Logf("snapshot %d: %v", i, err)
			failed++
			continue
		}
		tgt := filepath.Join(t.TempDir(), "restore")
		if err := restorer.New(r, restorer.Options{Target: tgt}).Run(ctx, sn.Tree); err != nil {
			t.Logf("restore of snapshot %d: %v", i, err)
			failed++
			continue
		}
		got, err := describe(filepath.Join(tgt, "src"))
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(base.states[i]) {
			t.Errorf("snapshot %d restored without error to other content:\n got %.300v\nwant %.300v", i, got, base.states[i])
		}
	}
	return failed
}
