package repo_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store"
)

// TestOpenRead reads, with the read keys alone, data sealed in two
// epochs, and refuses every write.
func TestOpenRead(t *testing.T) {
	a, r := newAccount(t)
	removed := newDevice(t, "removed")
	a.add(t, r, removed)
	old := randomBytes(t, 5000)
	oldID := saveFlushed(t, r, old)
	a.remove(t, r, removed)
	cur := randomBytes(t, 7000)
	curID := saveFlushed(t, r, cur)
	tree := []byte(`{"nodes":[]}`) // in a tree pack, read whole (§6.7)
	treeID, _ := save(t, r, blob.Tree, tree)
	flush(t, r)
	rk, err := r.ReadKeys()
	if err != nil {
		t.Fatal(err)
	}
	if len(rk.Data) != 2 {
		t.Fatalf("read keys of %d epochs, want 2", len(rk.Data))
	}
	ro, err := repo.OpenRead(ctx, a.st, a.chain, rk)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ro.Close)
	loadIndex(t, ro)
	for id, want := range map[blob.ID][]byte{oldID: old, curID: cur} {
		got, err := ro.LoadBlob(ctx, blob.Data, id, nil)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("blob %s: %v (equal: %v)", id.Short(), err, bytes.Equal(got, want))
		}
	}
	if got, err := ro.LoadBlob(ctx, blob.Tree, treeID, nil); err != nil || !bytes.Equal(got, tree) {
		t.Fatalf("tree blob %s: %v (equal: %v)", treeID.Short(), err, bytes.Equal(got, tree))
	}
	if _, _, err := ro.SaveBlob(ctx, blob.Data, []byte("x")); !errors.Is(err, repo.ErrReadOnly) {
		t.Errorf("SaveBlob: %v, want ErrReadOnly", err)
	}
	if _, err := ro.SaveObject(ctx, store.Snapshots, crypt.ADSnapshot, []byte("{}")); !errors.Is(err, repo.ErrReadOnly) {
		t.Errorf("SaveObject: %v, want ErrReadOnly", err)
	}
	if err := ro.WrapTo(ctx, removed.Public()); !errors.Is(err, repo.ErrReadOnly) {
		t.Errorf("WrapTo: %v, want ErrReadOnly", err)
	}
	again, err := ro.ReadKeys()
	if err != nil || !again.ID.Equal(&rk.ID) || len(again.Data) != 2 {
		t.Errorf("ReadKeys of a read-only repo: %v", err)
	}
}

// TestOpenReadRefuses refuses keys that do not authenticate the
// configuration, and a key list that is empty.
func TestOpenReadRefuses(t *testing.T) {
	a, r := newAccount(t)
	rk, err := r.ReadKeys()
	if err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(k *repo.ReadKeys){
		"other config key": func(k *repo.ReadKeys) { k.Conf[0] ^= 1 },
		"no data keys":     func(k *repo.ReadKeys) { k.Data = nil },
		"too many epochs":  func(k *repo.ReadKeys) { k.Data = make([]crypt.Key, 1<<20) },
	} {
		k := &repo.ReadKeys{Data: append([]crypt.Key(nil), rk.Data...), ID: rk.ID, Conf: rk.Conf}
		change(k)
		if ro, err := repo.OpenRead(ctx, a.st, a.chain, k); err == nil {
			ro.Close()
			t.Errorf("%s: opened", name)
		}
	}
}

// TestOpenReadWrongDataKey opens with another data key: the configuration
// authenticates, but no blob does.
func TestOpenReadWrongDataKey(t *testing.T) {
	a, r := newAccount(t)
	id := saveFlushed(t, r, randomBytes(t, 3000))
	rk, err := r.ReadKeys()
	if err != nil {
		t.Fatal(err)
	}
	rk.Data[0][0] ^= 1
	ro, err := repo.OpenRead(ctx, a.st, a.chain, rk)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ro.Close)
	if err := ro.LoadIndex(ctx); !errors.Is(err, crypt.ErrAuth) {
		t.Fatalf("LoadIndex: %v, want ErrAuth", err)
	}
	if _, err := ro.LoadBlob(ctx, blob.Data, id, nil); err == nil {
		t.Fatal("a blob opened under the wrong data key")
	}
}
