package index

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/coffer-backup/coffer/internal/blob"
)

// idSource yields reproducible pseudo-random IDs, as blob IDs are.
type idSource struct{ r *rand.ChaCha8 }

func newIDSource(seed byte) idSource { return idSource{rand.NewChaCha8([32]byte{seed})} }

func (s idSource) next() blob.ID {
	var id blob.ID
	s.r.Read(id[:])
	return id
}

// makePack returns a pack of n consecutive blobs with fresh IDs, every
// third a tree.
func makePack(ids idSource, n int) Pack {
	p := Pack{ID: ids.next(), Blobs: make([]Blob, n)}
	for i := range p.Blobs {
		t := blob.Data
		if i%3 == 2 {
			t = blob.Tree
		}
		p.Blobs[i] = Blob{Type: t, ID: ids.next(), Offset: uint32(i) * 100, Length: 100, RawLength: uint32(i)}
	}
	return p
}

func locOf(p Pack, b Blob) Location {
	return Location{Pack: p.ID, Type: b.Type, Offset: b.Offset, Length: b.Length, RawLength: b.RawLength}
}

func TestMasterLookup(t *testing.T) {
	ids := newIDSource(1)
	p1, p2 := makePack(ids, 3), makePack(ids, 2)
	again := Pack{ID: testID("repack"), Blobs: []Blob{{Type: p1.Blobs[0].Type, ID: p1.Blobs[0].ID, Offset: 7, Length: 50, RawLength: 0}}}
	twin := p1.Blobs[2].ID // same 16-byte prefix as a stored blob, different tail
	twin[len(twin)-1] ^= 0xFF
	absent := ids.next()

	for _, tc := range []struct {
		name    string
		files   []*File
		packs   []Pack
		exclude []blob.ID
		id      blob.ID
		want    Location
		found   bool
	}{
		{"empty index", nil, nil, nil, absent, Location{}, false},
		{"from a file", []*File{{Packs: []Pack{p1, p2}}}, nil, nil, p2.Blobs[1].ID, locOf(p2, p2.Blobs[1]), true},
		{"from a pack", nil, []Pack{p1}, nil, p1.Blobs[2].ID, locOf(p1, p1.Blobs[2]), true},
		{"tree type kept", nil, []Pack{p1}, nil, p1.Blobs[2].ID, Location{Pack: p1.ID, Type: blob.Tree, Offset: 200, Length: 100, RawLength: 2}, true},
		{"absent", []*File{{Packs: []Pack{p1, p2}}}, nil, nil, absent, Location{}, false},
		{"first copy wins", nil, []Pack{p1, again}, nil, again.Blobs[0].ID, locOf(p1, p1.Blobs[0]), true},
		{"copy in other pack after exclude", nil, []Pack{p1, again}, []blob.ID{p1.ID}, again.Blobs[0].ID, locOf(again, again.Blobs[0]), true},
		{"all copies excluded", nil, []Pack{p1, again}, []blob.ID{p1.ID, again.ID}, again.Blobs[0].ID, Location{}, false},
		{"other packs unaffected by exclude", nil, []Pack{p1, p2}, []blob.ID{p1.ID}, p2.Blobs[0].ID, locOf(p2, p2.Blobs[0]), true},
		{"excluded before added", []*File{{Packs: []Pack{p1}}}, nil, []blob.ID{p2.ID}, p2.Blobs[0].ID, Location{}, false},
		{"only the prefix is compared", nil, []Pack{p1}, nil, twin, locOf(p1, p1.Blobs[2]), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMaster()
			m.Exclude(tc.exclude) // before adding: must hold for packs added later
			for _, f := range tc.files {
				m.AddFile(f, true)
			}
			for _, p := range tc.packs {
				m.AddPack(p)
			}
			got, ok := m.Lookup(tc.id)
			if ok != tc.found || got != tc.want {
				t.Errorf("Lookup = %+v, %v; want %+v, %v", got, ok, tc.want, tc.found)
			}
			if m.Has(tc.id) != tc.found {
				t.Errorf("Has = %v, want %v", !tc.found, tc.found)
			}
		})
	}
}

// TestMasterCopies: every distinct location listed for a blob is kept, in
// the order added, identical ones once; a lying entry never hides a true
// one, whichever comes first.
func TestMasterCopies(t *testing.T) {
	ids := newIDSource(8)
	p := makePack(ids, 2)
	b := p.Blobs[0]
	shifted, rawLie, other := b, b, Pack{ID: testID("other"), Blobs: []Blob{b}}
	shifted.Offset += 7
	rawLie.RawLength++
	lying := Pack{ID: p.ID, Blobs: []Blob{shifted}}
	for _, tc := range []struct {
		name    string
		add     []Pack
		exclude []blob.ID
		want    []Location
	}{
		{"one copy", []Pack{p}, nil, []Location{locOf(p, b)}},
		{"identical entries once", []Pack{p, p, {ID: p.ID, Blobs: []Blob{b}}}, nil, []Location{locOf(p, b)}},
		{"two packs, in the order added", []Pack{other, p}, nil, []Location{locOf(other, b), locOf(p, b)}},
		{"lie about the offset in the same pack", []Pack{lying, p}, nil, []Location{locOf(p, shifted), locOf(p, b)}},
		{"lie about the raw length", []Pack{p, {ID: p.ID, Blobs: []Blob{rawLie}}}, nil, []Location{locOf(p, b), locOf(p, rawLie)}},
		{"excluded pack left out", []Pack{other, p}, []blob.ID{other.ID}, []Location{locOf(p, b)}},
		{"absent", []Pack{other}, []blob.ID{other.ID}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMaster()
			for _, pk := range tc.add {
				m.AddPack(pk)
			}
			m.Exclude(tc.exclude)
			if got := m.Copies(b.ID); !slices.Equal(got, tc.want) {
				t.Errorf("Copies = %+v, want %+v", got, tc.want)
			}
			if m.Len() < len(tc.want) {
				t.Errorf("Len = %d, fewer than the %d copies", m.Len(), len(tc.want))
			}
		})
	}
}

func TestMasterCounts(t *testing.T) {
	ids := newIDSource(2)
	p1, p2 := makePack(ids, 4), makePack(ids, 5)
	dup := Pack{ID: testID("dup"), Blobs: []Blob{p1.Blobs[0], p1.Blobs[0]}}
	for _, tc := range []struct {
		name  string
		add   func(m *Master)
		len   int
		packs []blob.ID
	}{
		{"empty", func(m *Master) {}, 0, []blob.ID{}},
		{"one file", func(m *Master) { m.AddFile(&File{Packs: []Pack{p1, p2}}, true) }, 9, []blob.ID{p1.ID, p2.ID}},
		{"same file twice", func(m *Master) {
			m.AddFile(&File{Packs: []Pack{p1, p2}}, true)
			m.AddFile(&File{Packs: []Pack{p2, p1}}, true)
		}, 9, []blob.ID{p1.ID, p2.ID}},
		{"pack then file repeating it", func(m *Master) {
			m.AddPack(p1)
			m.AddFile(&File{Packs: []Pack{p1, p2}}, true)
		}, 9, []blob.ID{p1.ID, p2.ID}},
		{"blob listed twice in one pack", func(m *Master) { m.AddPack(dup) }, 1, []blob.ID{dup.ID}},
		{"pack listed twice in one file", func(m *Master) { m.AddFile(&File{Packs: []Pack{p1, p1}}, true) }, 4, []blob.ID{p1.ID}},
		{"one blob in two packs", func(m *Master) { m.AddPack(p1); m.AddPack(dup) }, 5, []blob.ID{p1.ID, dup.ID}},
		{"one blob at two places of a pack", func(m *Master) {
			moved := p1.Blobs[0]
			moved.Offset += 1000
			m.AddPack(p1)
			m.AddFile(&File{Packs: []Pack{{ID: p1.ID, Blobs: []Blob{moved}}}}, true)
		}, 5, []blob.ID{p1.ID}},
		{"excluded still counted", func(m *Master) { m.AddPack(p1); m.Exclude([]blob.ID{p1.ID}) }, 4, []blob.ID{p1.ID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMaster()
			tc.add(m)
			if m.Len() != tc.len {
				t.Errorf("Len = %d, want %d", m.Len(), tc.len)
			}
			want := slices.Clone(tc.packs)
			slices.SortFunc(want, func(x, y blob.ID) int { return compareID(&x, &y) })
			if got := m.Packs(); !slices.Equal(got, want) {
				t.Errorf("Packs = %v, want %v", got, want)
			}
		})
	}
}

// TestMasterMatchesMap adds many blobs in batches of every size, so that
// buckets grow and merge repeatedly, and checks Master against a map.
func TestMasterMatchesMap(t *testing.T) {
	ids := newIDSource(3)
	m := NewMaster()
	want := make(map[Prefix]Location)
	var excluded []blob.ID
	for batch := range 60 {
		var f File
		for range batch%7 + 1 {
			f.Packs = append(f.Packs, makePack(ids, 1+batch*37%300))
		}
		if batch%4 == 0 {
			excluded = append(excluded, f.Packs[0].ID)
		}
		for _, p := range f.Packs {
			if batch%4 == 0 && p.ID == f.Packs[0].ID {
				continue
			}
			for _, b := range p.Blobs {
				want[PrefixOf(b.ID)] = locOf(p, b)
			}
		}
		if batch%2 == 0 {
			m.AddFile(&f, true)
		} else {
			for _, p := range f.Packs {
				m.AddPack(p)
			}
		}
	}
	m.Exclude(excluded)
	if len(want) < 10000 {
		t.Fatalf("test too small: %d blobs", len(want))
	}
	var last Prefix
	n := 0
	m.Each(func(p Prefix, loc Location) bool {
		if n > 0 && bytes.Compare(last[:], p[:]) >= 0 {
			t.Fatalf("Each out of order: %x after %x", p, last)
		}
		if w, ok := want[p]; !ok || w != loc {
			t.Fatalf("Each gave %x at %+v; want %+v (present %v)", p, loc, w, ok)
		}
		var id blob.ID
		copy(id[:], p[:])
		if got, ok := m.Lookup(id); !ok || got != loc {
			t.Fatalf("Lookup(%x) = %+v, %v; want %+v", p, got, ok, loc)
		}
		last, n = p, n+1
		return true
	})
	if n != len(want) {
		t.Fatalf("Each visited %d entries, want %d", n, len(want))
	}
	for range 1000 {
		if id := ids.next(); m.Has(id) {
			t.Fatalf("Has(%s) for a blob never added", id)
		}
	}
}

func TestEachStops(t *testing.T) {
	m := NewMaster()
	m.AddPack(makePack(newIDSource(4), 10))
	calls := 0
	m.Each(func(Prefix, Location) bool { calls++; return calls < 3 })
	if calls != 3 {
		t.Fatalf("Each called fn %d times after it returned false on call 3", calls)
	}
}

func TestReserve(t *testing.T) {
	ids := newIDSource(5)
	p := makePack(ids, 2)
	stored, pending := p.Blobs[0].ID, p.Blobs[1].ID
	m := NewMaster()
	m.AddPack(Pack{ID: p.ID, Blobs: p.Blobs[:1]})
	for _, step := range []struct {
		name string
		do   func() bool
		want bool
	}{
		{"stored blob", func() bool { return m.Reserve(stored) }, false},
		{"new blob", func() bool { return m.Reserve(pending) }, true},
		{"reserved blob", func() bool { return m.Reserve(pending) }, false},
		{"after release", func() bool { m.Release(pending); return m.Reserve(pending) }, true},
		{"after AddPack", func() bool { m.AddPack(p); return m.Reserve(pending) }, false},
		{"in excluded pack", func() bool { m.Exclude([]blob.ID{p.ID}); return m.Reserve(pending) }, true},
	} {
		if got := step.do(); got != step.want {
			t.Fatalf("%s: Reserve = %v, want %v", step.name, got, step.want)
		}
	}
}

// TestReserveOneWinner races many writers over the same blobs. A winner
// stores its blob with AddPack or, one time in ten, fails and releases it
// so that another writer may win; a last pass stores what the released
// reservations left over. Every blob must end up stored exactly once.
func TestReserveOneWinner(t *testing.T) {
	const writers, blobs = 16, 300
	src := newIDSource(6)
	want := make([]blob.ID, blobs)
	for i := range want {
		want[i] = src.next()
	}
	m := NewMaster()
	var stored [blobs]atomic.Int32
	store := func(i int) {
		stored[i].Add(1)
		pack := want[i]
		pack[0] ^= 0xFF
		m.AddPack(Pack{ID: pack, Blobs: []Blob{{Type: blob.Data, ID: want[i], Length: 100}}})
	}
	var released atomic.Int32
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 0))
			for _, i := range r.Perm(blobs) {
				switch {
				case !m.Reserve(want[i]):
				case r.IntN(10) == 0:
					released.Add(1)
					m.Release(want[i])
				default:
					store(i)
				}
			}
		})
	}
	wg.Wait()
	for i := range want {
		if m.Reserve(want[i]) {
			store(i)
		}
	}
	for i := range stored {
		if n := stored[i].Load(); n != 1 || !m.Has(want[i]) {
			t.Errorf("blob %d stored %d times, Has = %v", i, n, m.Has(want[i]))
		}
	}
	if m.Len() != blobs {
		t.Errorf("Len = %d, want %d", m.Len(), blobs)
	}
	if released.Load() == 0 {
		t.Errorf("no writer released a reservation: the test did not exercise Release")
	}
}

func TestConcurrentLookupAndAdd(t *testing.T) {
	ids := newIDSource(7)
	packs := make([]Pack, 200)
	for i := range packs {
		packs[i] = makePack(ids, 20)
	}
	m := NewMaster()
	var wg sync.WaitGroup
	wg.Go(func() {
		for _, p := range packs {
			m.AddPack(p)
		}
	})
	for range 4 {
		wg.Go(func() {
			for _, p := range packs {
				for _, b := range p.Blobs {
					if loc, ok := m.Lookup(b.ID); ok && loc != locOf(p, b) {
						t.Errorf("Lookup(%s) = %+v while adding", b.ID, loc)
					}
				}
			}
		})
	}
	wg.Wait()
	if m.Len() != 200*20 {
		t.Fatalf("Len = %d, want %d", m.Len(), 200*20)
	}
}

// withTypes returns p with its blobs' types set in turn from types.
func withTypes(p Pack, types ...blob.Type) Pack {
	p.Blobs = slices.Clone(p.Blobs[:len(types)])
	for i, t := range types {
		p.Blobs[i].Type = t
	}
	return p
}

// TestTreePack: a pack is a tree pack when every listing of it, over all
// index objects and AddPack calls, lists only trees (docs/format.md §6.7).
func TestTreePack(t *testing.T) {
	ids := newIDSource(9)
	base := makePack(ids, 3)
	trees := withTypes(base, blob.Tree, blob.Tree)
	mixed := withTypes(base, blob.Tree, blob.Data)
	lastData := Pack{ID: base.ID, Blobs: []Blob{{Type: blob.Data, ID: ids.next(), Offset: 200, Length: 100}}}
	for _, tc := range []struct {
		name   string
		add    []Pack
		viaAdd bool // AddPack rather than AddFile
		want   bool
	}{
		{"unknown pack", nil, false, false},
		{"trees only", []Pack{trees}, false, true},
		{"trees only, added by this process", []Pack{trees}, true, true},
		{"a data blob among trees", []Pack{mixed}, false, false},
		{"data listed by a second index object", []Pack{trees, lastData}, false, false},
		{"data blobs only", []Pack{withTypes(base, blob.Data)}, false, false},
	} {
		m := NewMaster()
		for _, p := range tc.add {
			if tc.viaAdd {
				m.AddPack(p)
			} else {
				m.AddFile(&File{Packs: []Pack{p}}, true)
			}
		}
		if got := m.TreePack(base.ID); got != tc.want {
			t.Errorf("%s: TreePack = %v, want %v", tc.name, got, tc.want)
		}
	}
}
