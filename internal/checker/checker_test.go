package checker_test

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/checker"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store"
)

func check(t *testing.T, r *repo.Repo, readData bool) *checker.Report {
	t.Helper()
	rep, err := checker.Check(ctx, r, readData)
	if err != nil {
		t.Fatalf("Check(%v) could not run: %v", readData, err)
	}
	return rep
}

func TestCleanRepository(t *testing.T) {
	dir := copyStore(t)
	if n := restoreAll(t, dir); n != 0 {
		t.Fatalf("%d restores of the clean repository failed", n)
	}
	packs := len(objectNames(t, dir, store.Packs))
	for _, readData := range []bool{false, true} {
		rep := check(t, mustOpen(t, dir), readData)
		if len(rep.Errors) != 0 || len(rep.Notes) != 0 {
			t.Fatalf("Check(%v) of a clean repository: errors %q, notes %q", readData, rep.Errors, rep.Notes)
		}
		if rep.Snapshots != 2 || rep.Packs != packs || packs < 2 || rep.Trees < 4 || rep.Blobs < 8 {
			t.Errorf("Check(%v) counts %+v", readData, rep)
		}
		if wantRead := map[bool]int{false: 0, true: packs}[readData]; rep.ReadPacks != wantRead {
			t.Errorf("Check(%v) read %d packs", readData, rep.ReadPacks)
		}
	}
}

// TestUnindexedPackIsANote leaves a pack that no index object lists, as a
// crashed backup does: check notes it and finds no error.
func TestUnindexedPackIsANote(t *testing.T) {
	dir := copyStore(t)
	before := objectNames(t, dir, store.Index)
	r := mustOpen(t, dir)
	if _, _, err := r.SaveBlob(ctx, blob.Data, []byte("left by a crashed backup")); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, n := range objectNames(t, dir, store.Index) {
		if !contains(before, n) {
			if err := os.Remove(objectPath(dir, store.Index, n)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, readData := range []bool{false, true} {
		rep := check(t, mustOpen(t, dir), readData)
		if len(rep.Errors) != 0 || len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "1 packs are not in any index") {
			t.Errorf("Check(%v): errors %q, notes %q", readData, rep.Errors, rep.Notes)
		}
	}
}

func TestPendingPrunePlanIsANote(t *testing.T) {
	dir := copyStore(t)
	r := mustOpen(t, dir)
	p, err := blob.ParseID(objectNames(t, dir, store.Packs)[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.SavePrunePlan(ctx, &repo.PrunePlan{Created: time.Now(), Packs: []blob.ID{p}}); err != nil {
		t.Fatal(err)
	}
	rep := check(t, mustOpen(t, dir), true)
	if len(rep.Errors) != 0 || len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "prune plan") {
		t.Errorf("errors %q, notes %q", rep.Errors, rep.Notes)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// damage is one way a store can alter an object.
type damage struct {
	name  string
	apply func(t *testing.T, dir string, kind store.Kind, obj, other string)
}

var damages = []damage{
	{"flip first byte", flipAt(func(int) int { return 0 })},
	{"flip middle byte", flipAt(func(n int) int { return n / 2 })},
	{"flip last byte", flipAt(func(n int) int { return n - 1 })},
	{"truncate by one byte", func(t *testing.T, dir string, kind store.Kind, obj, _ string) {
		rewrite(t, objectPath(dir, kind, obj), func(b []byte) []byte { return b[:len(b)-1] })
	}},
	{"truncate to half", func(t *testing.T, dir string, kind store.Kind, obj, _ string) {
		rewrite(t, objectPath(dir, kind, obj), func(b []byte) []byte { return b[:len(b)/2] })
	}},
	{"append a byte", func(t *testing.T, dir string, kind store.Kind, obj, _ string) {
		rewrite(t, objectPath(dir, kind, obj), func(b []byte) []byte { return append(b, 0) })
	}},
	{"delete", func(t *testing.T, dir string, kind store.Kind, obj, _ string) {
		if err := os.Remove(objectPath(dir, kind, obj)); err != nil {
			t.Fatal(err)
		}
	}},
	{"swap with another", func(t *testing.T, dir string, kind store.Kind, obj, other string) {
		swap(t, objectPath(dir, kind, obj), objectPath(dir, kind, other))
	}},
}

func flipAt(pos func(n int) int) func(*testing.T, string, store.Kind, string, string) {
	return func(t *testing.T, dir string, kind store.Kind, obj, _ string) {
		rewrite(t, objectPath(dir, kind, obj), func(b []byte) []byte { b[pos(len(b))] ^= 0x01; return b })
	}
}

// TestTamperMatrix applies every damage to every pack, index object and
// snapshot of the base repository. Check reading all data must report an
// error, and without reading data too wherever the damage shows without
// it; restores must fail or be exact. Two damages cannot be told from
// legitimate states and are checked for what they are:
//   - a deleted index object leaves its packs unindexed, which check notes
//     (and the next backup repairs) while the data stays restorable;
//   - a deleted snapshot is indistinguishable from one forgotten by the
//     user (docs/format.md §10): the rest must stay sound.
func TestTamperMatrix(t *testing.T) {
	for _, kind := range []store.Kind{store.Packs, store.Index, store.Snapshots} {
		objs := objectNames(t, copyStore(t), kind)
		if len(objs) < 2 {
			t.Fatalf("base repository has %d %s objects, want at least 2", len(objs), kind)
		}
		for i, obj := range objs {
			other := objs[(i+1)%len(objs)]
			for _, d := range damages {
				t.Run(string(kind)+"/"+obj[:8]+"/"+d.name, func(t *testing.T) {
					dir := copyStore(t)
					d.apply(t, dir, kind, obj, other)
					tamperOutcome(t, dir, kind, d.name)
				})
			}
		}
	}
}

func tamperOutcome(t *testing.T, dir string, kind store.Kind, damage string) {
	quick := check(t, mustOpen(t, dir), false)
	full := check(t, mustOpen(t, dir), true)
	failed := restoreAll(t, dir)
	t.Logf("quick %q %q; full %q %q; %d restores failed", quick.Errors, quick.Notes, full.Errors, full.Notes, failed)
	switch {
	case kind == store.Snapshots && damage == "delete":
		if len(full.Errors) != 0 || full.Snapshots != 1 {
			t.Errorf("after deleting a snapshot the rest is not sound: %+v", full)
		}
		if failed != 1 {
			t.Errorf("%d restores failed, want only the deleted snapshot's", failed)
		}
		return
	case kind == store.Index && damage == "delete":
		if len(quick.Errors)+len(quick.Notes) == 0 {
			t.Error("a deleted index object is neither an error nor a note")
		}
		if failed != 0 {
			t.Errorf("%d restores failed although every pack is intact", failed)
		}
		return
	}
	if len(full.Errors) == 0 {
		t.Error("Check reading all data reports no error")
	}
	visibleWithoutData := kind != store.Packs || damage == "delete"
	if visibleWithoutData && len(quick.Errors) == 0 {
		t.Error("Check without reading data reports no error")
	}
	if kind != store.Packs && failed == 0 {
		t.Error("every snapshot restored from a damaged " + string(kind) + " object")
	}
}

// TestTamperKeysAndConfig damages the objects needed to open the
// repository: opening must fail with an error, never succeed on altered
// bytes or panic.
func TestTamperKeysAndConfig(t *testing.T) {
	devKey := keys.DeviceObjectName(base.commit, base.dev.ID)
	for _, c := range []struct {
		kind         store.Kind
		obj, other   string
		otherKind    store.Kind
		missingError error
	}{
		{store.Keys, devKey, keys.RecoveryObjectName(base.commit, recoveryID(t)), store.Keys, repo.ErrNoDeviceKey},
		{store.Config, "config", devKey, store.Keys, repo.ErrNotRepo},
	} {
		for _, d := range damages {
			t.Run(string(c.kind)+"/"+d.name, func(t *testing.T) {
				dir := copyStore(t)
				if d.name == "swap with another" {
					swap(t, objectPath(dir, c.kind, c.obj), objectPath(dir, c.otherKind, c.other))
				} else {
					d.apply(t, dir, c.kind, c.obj, "")
				}
				r, err := openRepo(dir)
				if err == nil {
					r.Close()
					t.Fatal("opened")
				}
				if d.name == "delete" && !errors.Is(err, c.missingError) {
					t.Errorf("missing object: %v, want %v", err, c.missingError)
				}
			})
		}
	}
}

func recoveryID(t *testing.T) string {
	t.Helper()
	rd, err := base.recovery.Device()
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Zero()
	return rd.ID
}

// TestTamperWrappedKeyBytes flips bytes of the root key wrapped to the
// device and to the recovery key one at a time (every byte of the first
// and last 64, every 16th between): each must make opening fail.
func TestTamperWrappedKeyBytes(t *testing.T) {
	for _, c := range []struct {
		obj  string
		open func(dir string) (*repo.Repo, error)
	}{
		{keys.DeviceObjectName(base.commit, base.dev.ID), openRepo},
		{keys.RecoveryObjectName(base.commit, recoveryID(t)), openRecovery},
	} {
		t.Run(c.obj, func(t *testing.T) {
			dir := copyStore(t)
			r, err := c.open(dir)
			if err != nil {
				t.Fatalf("untouched: %v", err)
			}
			r.Close()
			path := objectPath(dir, store.Keys, c.obj)
			orig, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for i := range orig {
				if i >= 64 && i < len(orig)-64 && i%16 != 0 {
					continue
				}
				rewrite(t, path, func([]byte) []byte { b := bytes.Clone(orig); b[i] ^= 0x01; return b })
				if r, err := c.open(dir); err == nil {
					r.Close()
					t.Fatalf("opened with byte %d of %d flipped", i, len(orig))
				}
			}
		})
	}
}

// TestTamperEveryByteOfConfig flips each byte of the configuration in
// turn: every one must make opening fail, or the store could alter it
// unnoticed.
func TestTamperEveryByteOfConfig(t *testing.T) {
	dir := copyStore(t)
	path := objectPath(dir, store.Config, "config")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range orig {
		b := bytes.Clone(orig)
		b[i] ^= 0x01
		rewrite(t, path, func([]byte) []byte { return b })
		if r, err := openRepo(dir); err == nil {
			r.Close()
			t.Errorf("opened with config %q", b)
		}
	}
}
