package pack

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/crypt"
)

func TestRoundTrip(t *testing.T) {
	k := testKeys(t)
	for _, tc := range []struct {
		name  string
		blobs []testBlob
		reads int // ReadAt calls ReadHeader makes
	}{
		{"one byte", []testBlob{{blob.Data, []byte{7}}}, 1},
		{"empty tree", []testBlob{{blob.Tree, nil}}, 1},
		{"100 small", numbered(100, 100), 1},
		{"16 of 64KiB", numbered(16, 64<<10), 1},
		{"more than one read", numbered(tailEntries+500, 8), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, entries, plains := k.build(t, tc.blobs)
			if Padme(uint64(len(p))) != uint64(len(p)) {
				t.Errorf("pack of %d bytes is not of a Padmé length", len(p))
			}
			var end uint32
			for i, e := range entries {
				if e.Offset != end {
					t.Fatalf("entry %d at %d, want %d", i, e.Offset, end)
				}
				end += e.Length
			}
			r := &countingReader{Reader: bytes.NewReader(p)}
			got, err := ReadHeader(r, int64(len(p)), k.o)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, entries) {
				t.Fatal("ReadHeader's entries differ from Finish's")
			}
			if r.reads != tc.reads {
				t.Errorf("ReadHeader made %d reads, want %d", r.reads, tc.reads)
			}
			if err := k.openAll(p, got, plains); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestShuffle checks that the order of blobs in a pack is uniformly
// random, whatever the order they were added in: over many packs of four
// blobs, each of the 24 orders must appear about equally often (a
// chi-squared test with 23 degrees of freedom; 70 is exceeded by chance
// with probability below 1e-6, while an unshuffled pack scores about 28000).
func TestShuffle(t *testing.T) {
	const trials = 1200
	k := testKeys(t)
	b := NewBuilder()
	index := make(map[blob.ID]int)
	for i, x := range numbered(4, 16) {
		id, env := k.seal(t, x)
		b.Add(x.typ, id, env, 16)
		index[id] = i
	}
	counts := make(map[[4]int]int)
	for range trials {
		_, entries, err := b.Finish(k.s)
		if err != nil {
			t.Fatal(err)
		}
		var perm [4]int
		for i, e := range entries {
			perm[i] = index[e.ID]
		}
		counts[perm]++
	}
	want := float64(trials) / 24
	chi2 := float64(24-len(counts)) * want // orders never seen
	for _, c := range counts {
		chi2 += (float64(c) - want) * (float64(c) - want) / want
	}
	if chi2 > 70 {
		t.Errorf("pack order is not uniform: chi² = %.1f over %d orders seen", chi2, len(counts))
	}
}

// TestTamper flips each bit of every byte of a small pack: in the header
// or trailer it must make ReadHeader fail, in a blob it must make that
// blob fail to open.
func TestTamper(t *testing.T) {
	k := testKeys(t)
	p, entries, plains := k.build(t, numbered(3, 20))
	last := entries[len(entries)-1]
	blobsEnd := int(last.Offset + last.Length)
	for i := range p {
		for bit := range 8 {
			q := bytes.Clone(p)
			q[i] ^= 1 << bit
			got, err := readHeader(k, q)
			if i >= blobsEnd {
				if !errors.Is(err, crypt.ErrAuth) && !errors.Is(err, ErrInvalid) {
					t.Fatalf("flipping bit %d of byte %d (header): err = %v", bit, i, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("flipping bit %d of byte %d (blob): ReadHeader: %v", bit, i, err)
			}
			if k.openAll(q, got, plains) == nil {
				t.Fatalf("flipping bit %d of byte %d (blob) went unnoticed", bit, i)
			}
		}
	}
}

// TestRejectLayout checks packs whose size or trailer is wrong.
func TestRejectLayout(t *testing.T) {
	k := testKeys(t)
	p, _, _ := k.build(t, numbered(3, 20))
	hl := binary.LittleEndian.Uint32(p[len(p)-4:])
	withHL := func(v uint32) []byte {
		q := bytes.Clone(p)
		binary.LittleEndian.PutUint32(q[len(q)-4:], v)
		return q
	}
	other := crypt.Key{1}
	for _, tc := range []struct {
		name string
		pack []byte
		size int64 // if not len(pack)
		o    *crypt.Opener
		want error
	}{
		{"empty", nil, 0, nil, ErrInvalid},
		{"shorter than any pack", p[:minPack-1], 0, nil, ErrInvalid},
		{"last byte cut", p[:len(p)-1], 0, nil, ErrInvalid},
		{"first byte cut", p[1:], 0, nil, ErrInvalid},
		{"byte appended", append(bytes.Clone(p), 0), 0, nil, ErrInvalid},
		{"size beyond the limit", p, MaxSize + 1, nil, ErrInvalid},
		{"size beyond the object", p, int64(len(p)) + 1000, nil, errors.New("")},
		{"header length 0", withHL(0), 0, nil, ErrInvalid},
		{"header length below minimum", withHL(minHeader - 1), 0, nil, ErrInvalid},
		{"header length is the pack", withHL(uint32(len(p))), 0, nil, ErrInvalid},
		{"header length outside", withHL(math.MaxUint32), 0, nil, ErrInvalid},
		{"header length one more", withHL(hl + 1), 0, nil, crypt.ErrAuth},
		{"header length one less", withHL(hl - 1), 0, nil, crypt.ErrAuth},
		{"wrong key", p, 0, crypt.NewOpener(&other), crypt.ErrAuth},
	} {
		t.Run(tc.name, func(t *testing.T) {
			size, o := tc.size, tc.o
			if size == 0 {
				size = int64(len(tc.pack))
			}
			if o == nil {
				o = k.o
			}
			_, err := ReadHeader(bytes.NewReader(tc.pack), size, o)
			if err == nil || (tc.want.Error() != "" && !errors.Is(err, tc.want)) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestRejectHeader checks authentic headers whose contents break the
// format: a writer's bug, or a key holder's forgery.
func TestRejectHeader(t *testing.T) {
	k := testKeys(t)
	blobs := numbered(3, 30)
	p, entries, _ := k.build(t, blobs)
	hl := binary.LittleEndian.Uint32(p[len(p)-4:])
	stored := p[:len(p)-4-int(hl)]
	plain, err := k.o.Open(nil, p[len(stored):len(p)-4], headerAD)
	if err != nil {
		t.Fatal(err)
	}
	pad := len(plain) - prefixSize - len(entries)*entrySize
	if pad < 1 {
		t.Fatalf("test pack needs padding, has %d bytes", pad)
	}
	entry := func(b []byte, i int) []byte { return b[prefixSize+i*entrySize:] }
	le := binary.LittleEndian
	for _, tc := range []struct {
		name   string
		mutate func([]byte) []byte
		want   string // in the error; empty if none
	}{
		{"unchanged", func(b []byte) []byte { return b }, ""},
		{"version 2", func(b []byte) []byte { b[0] = 2; return b }, "version 2"},
		{"no blobs", func(b []byte) []byte { le.PutUint32(b[1:], 0); return b }, "lists 0 blobs"},
		{"too many blobs", func(b []byte) []byte { le.PutUint32(b[1:], MaxBlobs+1); return b }, "lists 1000001 blobs"},
		{"count beyond header", func(b []byte) []byte { le.PutUint32(b[1:], uint32(len(b))); return b }, "blobs in"},
		{"one blob fewer", func(b []byte) []byte { le.PutUint32(b[1:], 2); return b }, "padding is not zero"},
		{"unknown type", func(b []byte) []byte { entry(b, 1)[0] = 3; return b }, "unknown type 3"},
		{"zero ID", func(b []byte) []byte { clear(entry(b, 2)[1:33]); return b }, "zero ID"},
		{"duplicate", func(b []byte) []byte { copy(entry(b, 1)[:33], entry(b, 0)); return b }, "twice"},
		{"length too short", func(b []byte) []byte {
			l0 := le.Uint32(entry(b, 0)[33:])
			le.PutUint32(entry(b, 0)[33:], crypt.Overhead-1)
			le.PutUint32(entry(b, 1)[33:], le.Uint32(entry(b, 1)[33:])+l0-(crypt.Overhead-1))
			return b
		}, "shorter than an envelope"},
		{"lengths too long", func(b []byte) []byte { entry(b, 2)[33]++; return b }, "bytes of blobs"},
		{"padding not zero", func(b []byte) []byte { b[len(b)-1] = 1; return b }, "padding is not zero"},
		{"padding one short", func(b []byte) []byte { return b[:len(b)-1] }, "not its Padmé padding"},
		{"padding one long", func(b []byte) []byte { return append(b, 0) }, "not its Padmé padding"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := k.assemble(t, stored, tc.mutate(bytes.Clone(plain)))
			_, err := readHeader(k, q)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalid with %q", err, tc.want)
			}
		})
	}
}

// TestSwapEnvelopes checks that two envelopes of equal length swapped in
// place pass ReadHeader (the header is intact) but fail to open, because
// each is bound to its own identity.
func TestSwapEnvelopes(t *testing.T) {
	k := testKeys(t)
	p, entries, plains := k.build(t, numbered(2, 50))
	a, b := entries[0], entries[1]
	q := slices.Concat(p[b.Offset:b.Offset+b.Length], p[a.Offset:a.Offset+a.Length], p[a.Length+b.Length:])
	got, err := readHeader(k, q)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range got {
		if _, err := k.o.Open(nil, q[e.Offset:e.Offset+e.Length], BlobAD(e.Type, e.ID)); !errors.Is(err, crypt.ErrAuth) {
			t.Errorf("swapped blob %x opened: err = %v", e.ID[:4], err)
		}
	}
	if err := k.openAll(p, entries, plains); err != nil {
		t.Fatalf("control: %v", err)
	}
}

func TestBuilder(t *testing.T) {
	k := testKeys(t)
	x := numbered(2, 10)
	id0, env0 := k.seal(t, x[0])
	id1, env1 := k.seal(t, x[1])
	b := NewBuilder()
	if _, _, err := b.Finish(k.s); err == nil {
		t.Error("an empty pack was finished")
	}
	b.Add(x[0].typ, id0, env0, 10)
	env0[0] ^= 1 // Add must have copied the envelope
	b.Add(x[0].typ, id0, env1, 10)
	if b.Count() != 1 || b.Size() != len(env0) {
		t.Errorf("after adding a blob twice: Count %d, Size %d", b.Count(), b.Size())
	}
	env0[0] ^= 1
	p, entries, err := b.Finish(k.s)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.openAll(p, entries, map[blob.Handle][]byte{{Type: x[0].typ, ID: id0}: x[0].plain}); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	if b.Count() != 0 || b.Size() != 0 {
		t.Fatalf("after Reset: Count %d, Size %d", b.Count(), b.Size())
	}
	b.Add(x[1].typ, id1, env1, 10)
	p, entries, err = b.Finish(k.s)
	if err != nil || len(entries) != 1 || entries[0].ID != id1 || entries[0].Offset != 0 || len(p) < len(env1) {
		t.Fatalf("pack after Reset: %d entries, err %v", len(entries), err)
	}
}

// TestBuilderRoom checks that a Builder given a fixed room, by Grow or in
// a buffer of the caller's (Use), never reallocates its buffer: an
// envelope that does not fit is held apart, counted in Size, and laid out
// in the pack like the others; after Reset the room is whole again.
func TestBuilderRoom(t *testing.T) {
	for name, give := range map[string]func(*Builder, int){
		"Grow": (*Builder).Grow,
		"Use":  func(b *Builder, room int) { b.Use(make([]byte, 5, room)) },
	} {
		t.Run(name, func(t *testing.T) { testBuilderRoom(t, give) })
	}
}

func testBuilderRoom(t *testing.T, give func(*Builder, int)) {
	k := testKeys(t)
	x := numbered(5, 1000)
	envs := make([][]byte, len(x))
	ids := make([]blob.ID, len(x))
	plains := map[blob.Handle][]byte{}
	for i := range x {
		ids[i], envs[i] = k.seal(t, x[i])
		plains[blob.Handle{Type: x[i].typ, ID: ids[i]}] = x[i].plain
	}
	room := 2*len(envs[0]) + len(envs[0])/2 // two envelopes and a half
	b := NewBuilder()
	give(b, room)
	buf := b.buf[:1]
	for i := range x {
		b.Add(x[i].typ, ids[i], envs[i], 1000)
		envs[i][0] ^= 1 // Add must have copied the envelope, held apart or not
	}
	spilled := 0
	for _, s := range b.spill {
		if s != nil {
			spilled++
		}
	}
	if want := 5 * len(envs[0]); b.Size() != want || len(b.buf) != 2*len(envs[0]) || spilled != 3 {
		t.Errorf("Size %d (want %d), %d bytes in the buffer, %d held apart", b.Size(), want, len(b.buf), spilled)
	}
	if cap(b.buf) != cap(buf) || &b.buf[0] != &buf[0] {
		t.Error("the buffer was reallocated")
	}
	for i := range envs {
		envs[i][0] ^= 1
	}
	p, entries, err := b.Finish(k.s)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.openAll(p, entries, plains); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	b.Add(x[0].typ, ids[0], envs[0], 1000)
	b.Add(x[1].typ, ids[1], envs[1], 1000)
	if len(b.buf) != 2*len(envs[0]) || b.spill[1] != nil {
		t.Errorf("after Reset: %d bytes in the buffer, the second envelope held apart: %t", len(b.buf), b.spill[1] != nil)
	}
}

// TestFinishRejects checks that Finish refuses to write what ReadHeader
// would refuse to read.
func TestFinishRejects(t *testing.T) {
	k := testKeys(t)
	x := numbered(1, 10)[0]
	id, env := k.seal(t, x)
	for _, tc := range []struct {
		name string
		typ  blob.Type
		id   blob.ID
		env  []byte
	}{
		{"unknown type", 0, id, env},
		{"zero ID", x.typ, blob.ID{}, env},
		{"short envelope", x.typ, id, env[:crypt.Overhead-1]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuilder()
			b.Add(tc.typ, tc.id, tc.env, 10)
			if _, _, err := b.Finish(k.s); !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

func BenchmarkFinish(b *testing.B) {
	k := testKeys(b)
	for _, bc := range []struct {
		name       string
		n, blobLen int
	}{{"16x1MiB", 16, 1 << 20}, {"4096x4KiB", 4096, 4 << 10}} {
		b.Run(bc.name, func(b *testing.B) {
			bl := NewBuilder()
			for i := range bc.n {
				env := make([]byte, bc.blobLen)
				rand.Read(env)
				var id blob.ID
				binary.LittleEndian.PutUint64(id[:], uint64(i+1))
				bl.Add(blob.Data, id, env, uint32(bc.blobLen))
			}
			b.SetBytes(int64(bl.Size()))
			for b.Loop() {
				if _, _, err := bl.Finish(k.s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
