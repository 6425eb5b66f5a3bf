package repairer_test

import (
	"slices"
	"testing"

	"github.com/coffer-backup/coffer/internal/hostile"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/pruner"
	"github.com/coffer-backup/coffer/internal/repairer"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/tree"
	"github.com/coffer-backup/coffer/internal/treewalk"
)

// TestAttackOnFullDevice plays issue 11 from end to end at the library
// level. A full device backs up; a device holding the same keys (an
// append-only device, say, run by malware) uploads a pack whose validly
// sealed header lists every blob the repository holds with random bytes in
// their place, and an index object naming it. Listing and restoring still
// work, the false copies met first; check reports every false copy; prune
// keeps the genuine packs and deletes the lying one; a second round of
// lies (an index listing the genuine packs one byte off) is undone by
// repair, after which check is clean and everything restores.
func TestAttackOnFullDevice(t *testing.T) {
	f := newFixture(t)
	genuine := f.names()[store.Packs]
	attacker := f.open(plain) // another handle, same keys
	listed, err := hostile.Listed(ctx, attacker)
	if err != nil {
		t.Fatal(err)
	}
	liar, err := hostile.Pack(ctx, attacker, listed, hostile.RandomBytes)
	if err != nil {
		t.Fatal(err)
	}

	// ls: every item lists, though each tree's false copy comes first.
	r := f.open(plain)
	r.Index = index.NewMaster()
	r.Index.AddPack(liar)
	if err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	sn, err := r.LoadSnapshot(ctx, f.snap)
	if err != nil {
		t.Fatal(err)
	}
	items := 0
	if err := treewalk.Walk(ctx, r, treewalk.RootOf(sn), func(string, *tree.Node) error { items++; return nil }); err != nil || items != 5 {
		t.Fatalf("ls after the attack: %d items, %v", items, err)
	}
	if err := f.restore(); err != nil {
		t.Fatalf("restore after the attack: %v", err)
	}

	rep := f.check()
	if len(rep.BadCopies) != len(listed) || len(rep.Errors) != len(listed) {
		t.Fatalf("check: %d bad copies, errors %q; want the %d false copies", len(rep.BadCopies), rep.Errors, len(listed))
	}
	for _, bc := range rep.BadCopies {
		if bc.Pack != liar.ID {
			t.Errorf("check reported %v, not in the lying pack", bc)
		}
	}

	res, err := pruner.Prune(ctx, f.open(plain), pruner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	after := f.names()[store.Packs]
	for _, p := range genuine {
		if !slices.Contains(after, p) {
			t.Errorf("prune deleted genuine pack %s: %+v", p[:8], res)
		}
	}
	if slices.Contains(after, liar.ID.String()) {
		t.Errorf("prune kept the lying pack: %+v", res)
	}
	if err := f.restore(); err != nil {
		t.Fatalf("restore after prune: %v", err)
	}

	shifted := shiftedIndex(t, f)
	if rep := f.check(); len(rep.BadCopies) != shifted {
		t.Fatalf("check after the second lie: %d bad copies, want %d", len(rep.BadCopies), shifted)
	}
	fix := f.repair(repairer.Options{}, plain)
	if len(fix.BadCopies) != shifted || fix.WrittenIndex != 1 || len(fix.Lost) != 0 {
		t.Errorf("repair: %+v", fix)
	}
	if rep := f.check(); len(rep.Errors) != 0 || len(rep.Notes) != 0 {
		t.Errorf("check after repair: errors %q, notes %q", rep.Errors, rep.Notes)
	}
	if err := f.restore(); err != nil {
		t.Fatalf("restore after repair: %v", err)
	}
}

// shiftedIndex stores, with f's keys, an index object listing every pack
// one byte off, and returns how many false entries it holds.
func shiftedIndex(t *testing.T, f *fixture) int {
	t.Helper()
	r := f.open(plain)
	var lies []index.Pack
	n := 0
	for _, p := range listings(t, r) {
		s := index.Pack{ID: p.ID}
		for _, b := range p.Blobs {
			b.Offset++
			s.Blobs = append(s.Blobs, b)
			n++
		}
		lies = append(lies, s)
	}
	if _, err := hostile.Index(ctx, r, lies...); err != nil {
		t.Fatal(err)
	}
	return n
}
