package index

import (
	"cmp"
	"encoding/binary"
	"sort"

	"github.com/coffer-backup/coffer/internal/blob"
)

// Master files its entries in numBuckets buckets by the first bucketBytes
// bytes of the blob ID, which therefore need not be stored.
const (
	bucketBytes = 2
	numBuckets  = 1 << (8 * bucketBytes)
	// treeBit marks tree blobs in an entry's pack number.
	treeBit = 1 << 31
	// trustBit marks an entry a writer may rely on without reading it
	// (Master.Has): listed by this process's own uploads or by an index
	// object a trusted device signed (docs/format.md §7.4).
	trustBit = 1 << 30
	flagBits = treeBit | trustBit
)

// key is what a bucket stores of a Prefix: the bytes after the bucket
// number.
type key [len(Prefix{}) - bucketBytes]byte

// val is the location half of an entry: 16 bytes.
type val struct {
	pack   uint32 // pack number in the pack table, with treeBit for tree blobs and trustBit
	offset uint32
	length uint32
	raw    uint32
}

func (v val) num() uint32 { return v.pack &^ flagBits }

func (v val) trusted() bool { return v.pack&trustBit != 0 }

// sameLocation reports whether v and w locate the same bytes, whether or
// not they are trusted.
func sameLocation(v, w val) bool {
	v.pack &^= trustBit
	w.pack &^= trustBit
	return v == w
}

func (v val) typ() blob.Type {
	if v.pack&treeBit != 0 {
		return blob.Tree
	}
	return blob.Data
}

// entry is one blob on its way into a bucket.
type entry struct {
	bucket uint16
	key    key
	val    val
}

func newEntry(b Blob, pack uint32, trusted bool) entry {
	bi, k := split(&b.ID)
	v := val{pack: pack, offset: b.Offset, length: b.Length, raw: b.RawLength}
	if b.Type == blob.Tree {
		v.pack |= treeBit
	}
	if trusted {
		v.pack |= trustBit
	}
	return entry{bucket: bi, key: k, val: v}
}

// split returns the bucket number and key of a blob ID.
func split(id *blob.ID) (uint16, key) {
	return binary.BigEndian.Uint16(id[:bucketBytes]), key(id[bucketBytes:len(Prefix{})])
}

// prefix reassembles the Prefix that split took apart.
func prefix(bucket uint16, k *key) Prefix {
	var p Prefix
	binary.BigEndian.PutUint16(p[:], bucket)
	copy(p[bucketBytes:], k[:])
	return p
}

// compareKey orders keys bytewise, as two overlapping big-endian words.
func compareKey(x, y *key) int {
	if c := cmp.Compare(binary.BigEndian.Uint64(x[:8]), binary.BigEndian.Uint64(y[:8])); c != 0 {
		return c
	}
	return cmp.Compare(binary.BigEndian.Uint64(x[len(x)-8:]), binary.BigEndian.Uint64(y[len(y)-8:]))
}

// compareEntry orders entries by prefix, then by location, so that equal
// entries are adjacent.
func compareEntry(x, y entry) int {
	if c := cmp.Compare(x.bucket, y.bucket); c != 0 {
		return c
	}
	if c := compareKey(&x.key, &y.key); c != 0 {
		return c
	}
	return compareVal(x.val, y.val)
}

// compareVal orders locations by pack number (type bit included), offset,
// length and raw length.
func compareVal(x, y val) int {
	return cmp.Or(cmp.Compare(x.pack, y.pack), cmp.Compare(x.offset, y.offset),
		cmp.Compare(x.length, y.length), cmp.Compare(x.raw, y.raw))
}

// bucket holds entries sorted by key in two parallel slices, 30 bytes an
// entry. Entries with equal keys (copies of one blob: in several packs, or
// listed at several places of one pack) are adjacent, in the order they
// were added; a blob with one copy costs one entry and nothing more.
type bucket struct {
	keys []key
	vals []val
}

// search returns the index of the first entry whose key is not less than
// k. Keys are uniformly distributed (they are HMAC outputs), so it starts
// where k's next two bytes say k should be and walks from there: a few
// steps within a cache line or two, where a binary search would touch a
// line per step.
func (b *bucket) search(k *key) int {
	n := len(b.keys)
	i := int(uint64(binary.BigEndian.Uint16(k[:2])) * uint64(n) >> 16)
	for i > 0 && compareKey(&b.keys[i-1], k) >= 0 {
		i--
	}
	for i < n && compareKey(&b.keys[i], k) < 0 {
		i++
	}
	return i
}

// contains reports whether the bucket holds key k at location v.
// contains reports whether the bucket holds v's location for k; if it
// does and v is trusted, the entry it holds becomes trusted.
func (b *bucket) contains(k *key, v val) bool {
	for i := b.search(k); i < len(b.keys) && b.keys[i] == *k; i++ {
		if sameLocation(b.vals[i], v) {
			b.vals[i].pack |= v.pack & trustBit
			return true
		}
	}
	return false
}

// merge adds the entries of run, which is sorted by compareEntry and
// belongs to this bucket, except those the bucket (or run) already holds
// at the same location (pack, type, offset, length and raw length): an
// entry that differs in any of them is another copy, kept so that a reader
// can try it. It returns how many it added and may reorder run.
func (b *bucket) merge(run []entry) int {
	fresh := run[:0]
	for _, e := range run {
		last := len(fresh) - 1
		if last >= 0 && fresh[last].key == e.key && sameLocation(fresh[last].val, e.val) {
			fresh[last].val.pack |= e.val.pack & trustBit
			continue
		}
		if b.contains(&e.key, e.val) {
			continue
		}
		fresh = append(fresh, e)
	}
	n := len(b.keys)
	b.keys, b.vals = extend(b.keys, len(fresh)), extend(b.vals, len(fresh))
	mergeBack(n, len(fresh),
		func(i, j int) bool { return compareKey(&b.keys[i], &fresh[j].key) > 0 },
		func(from, to, count int) {
			copy(b.keys[to:to+count], b.keys[from:])
			copy(b.vals[to:to+count], b.vals[from:])
		},
		func(j, to int) { b.keys[to], b.vals[to] = fresh[j].key, fresh[j].val })
	return len(fresh)
}

// extend returns s lengthened by n zero elements. When it must reallocate
// it leaves about 1/16 of headroom, plus what the allocator's size class
// gives for free (append rounds capacity up to it), rather than append's
// doubling: memory, not insertion speed, is what the index must save.
func extend[T any](s []T, n int) []T {
	need := len(s) + n
	if need <= cap(s) {
		return s[:need]
	}
	g := append([]T(nil), make([]T, need+need/16)...)
	copy(g, s)
	return g[:need]
}

// mergeBack merges m sorted new items into n sorted old items held in a
// sequence already extended to n+m slots. It works from the back, placing
// each new item after a binary search and moving the old items that sort
// after it in one block, so that no old item is overwritten before it has
// moved. after(i, j) reports whether old item i sorts after new item j; on
// ties old items stay first. move(from, to, count) moves a block of old
// items as copy does; put(j, to) stores new item j.
func mergeBack(n, m int, after func(i, j int) bool, move func(from, to, count int), put func(j, to int)) {
	hi := n // old items from hi on are in place
	for j := m - 1; j >= 0; j-- {
		p := sort.Search(hi, func(i int) bool { return after(i, j) })
		move(p, p+j+1, hi-p)
		put(j, p+j)
		hi = p
	}
}
