package index

import (
	"slices"
	"sync"

	"github.com/coffer-backup/coffer/internal/blob"
)

// Prefix is the first 16 bytes of a blob ID: all that Master keeps of it.
type Prefix [16]byte

// PrefixOf returns the prefix of id.
func PrefixOf(id blob.ID) Prefix { return Prefix(id[:len(Prefix{})]) }

// Location says where a blob is stored.
type Location struct {
	Pack      blob.ID
	Type      blob.Type
	Offset    uint32
	Length    uint32
	RawLength uint32
}

// Master is the in-memory index of a repository: the union of the index
// objects it was given and of the packs this process wrote. It is safe for
// concurrent use; lookups share a read lock.
//
// Layout. Entries are filed in 65 536 buckets by the first two bytes of the
// blob ID. A bucket keeps its entries sorted in two parallel slices: the
// next 14 bytes of the ID, and 16 bytes of location (a 4-byte number into a
// table of full pack IDs, whose top bit marks tree blobs, then offset,
// length and raw length). So an entry costs 30 bytes, plus slack of about
// 1/16 when a bucket grows (it grows in small steps, not by doubling), and
// each pack costs 38 bytes in the pack table (with a flag of whether it
// is listed with a data blob: TreePack). A lookup searches one bucket
// of about N/65 536 entries (150 at ten million), starting where the ID
// predicts since IDs are uniform. Adding sorts the batch and merges it into
// each bucket it touches, and growth never copies more than one small
// bucket at a time, so memory never needs twice the index at once. (The
// garbage collector, though, lets the heap grow to twice the live data by
// default: a process holding a large index should set a memory limit with
// debug.SetMemoryLimit. Measured at ten million blobs: 337 MB live, 773 MB
// peak resident by default, 463 MB with GOMEMLIMIT=400MiB.)
//
// Why a 16-byte prefix is enough. Blob IDs are HMAC-SHA-256 outputs under a
// secret key (docs/format.md §3), so their prefixes are uniformly random and
// nobody without the key can choose them. Two of ten million blobs share a
// 128-bit prefix with probability about N²/2^129 ≈ 2^-82, and one lookup of
// an absent blob falsely matches with probability N/2^128 ≈ 2^-105. A false
// match would make a backup skip storing a blob; it could not make a
// restore return wrong data, because every blob's envelope binds its full ID
// as associated data, so the mismatch fails authentication.
//
// Copies and exclusion. One blob may be stored in several packs (two
// processes racing, or prune repacking it), and an index object may lie: a
// device holding the keys can list a blob at bytes that do not hold it
// (docs/format.md §7.3). Master therefore keeps every distinct location
// listed for a blob (pack, type, offset, length and raw length; identical
// entries once), as adjacent entries of its bucket, so that a blob with one
// copy costs nothing more. Copies returns them all, for readers to try in
// turn; Lookup returns the first added. Exclude hides the blobs of packs
// that a pending prune plan will delete, so that a backup stores them
// afresh instead of referring to them.
//
// Full IDs. Check and prune need, per pack, the full ID of each blob; they
// read and Decode the index objects again, one at a time, instead of
// keeping the whole index twice, and use PrefixOf, Lookup and Each to
// relate what they read to Master.
type Master struct {
	mu      sync.RWMutex
	buckets [numBuckets]bucket
	n       int // entries, counting each distinct location of a blob once
	packs   packTable

	// resMu guards reserved and orders Reserve against AddPack; when both
	// are needed it is taken before mu.
	resMu    sync.Mutex
	reserved map[blob.ID]struct{}
}

// NewMaster returns an empty index. It allocates 3 MiB of bucket headers.
func NewMaster() *Master {
	return &Master{reserved: make(map[blob.ID]struct{})}
}

// AddFile merges the packs of a decoded index object. Its Supersedes is
// not interpreted: the caller leaves out what a reader ignores
// (docs/format.md §7.3).
//
// trusted says whether writers may rely on its entries without reading
// them (Has): whether a device this process trusts signed the object
// (docs/format.md §7.4).
func (m *Master) AddFile(f *File, trusted bool) { m.add(f.Packs, trusted) }

// AddPack adds the blobs of a pack this process has just stored, and ends
// their reservations.
func (m *Master) AddPack(p Pack) {
	m.add([]Pack{p}, true)
	m.resMu.Lock()
	defer m.resMu.Unlock()
	for _, b := range p.Blobs {
		delete(m.reserved, b.ID)
	}
}

func (m *Master) add(packs []Pack, trusted bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	nums := m.packs.intern(packs)
	total := 0
	for _, p := range packs {
		total += len(p.Blobs)
	}
	run := make([]entry, 0, total)
	for i, p := range packs {
		m.packs.markData(nums[i], p.Blobs)
		for _, b := range p.Blobs {
			run = append(run, newEntry(b, nums[i], trusted))
		}
	}
	slices.SortFunc(run, compareEntry)
	for len(run) > 0 {
		n := 1
		for n < len(run) && run[n].bucket == run[0].bucket {
			n++
		}
		m.n += m.buckets[run[0].bucket].merge(run[:n])
		run = run[n:]
	}
}

// TreePack reports whether the pack is known and every blob any index
// object or AddPack listed in it is a tree: a tree pack, which readers may
// fetch whole (docs/format.md §6.7). A listing may lie, so this is only a
// hint of how to read; what is read is authenticated blob by blob.
func (m *Master) TreePack(id blob.ID) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	pos, ok := m.packs.find(&id)
	return ok && !m.packs.data[m.packs.byID[pos]]
}

// Lookup returns the first location added for the blob in a pack that is
// not excluded. Readers use Copies instead: the first may be false.
func (m *Master) Lookup(id blob.ID) (Location, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	b, i, ok := m.find(&id)
	if !ok {
		return Location{}, false
	}
	return m.location(b.vals[i]), true
}

// Copies returns every location listed for the blob in a pack that is not
// excluded, each once, in the order added (docs/format.md §7.4). Most blobs
// have one; a reader tries them until one authenticates (§7.3).
func (m *Master) Copies(id blob.ID) []Location {
	m.mu.RLock()
	defer m.mu.RUnlock()
	bi, k := split(&id)
	b := &m.buckets[bi]
	var out []Location
	for i := b.search(&k); i < len(b.keys) && b.keys[i] == k; i++ {
		if !m.excluded(b.vals[i]) {
			out = append(out, m.location(b.vals[i]))
		}
	}
	return out
}

// Has reports whether a trusted copy of the blob is listed in a pack that
// is not excluded: one a writer may deduplicate against without reading
// it (docs/format.md §7.4). A blob listed only by untrusted index objects
// (an append-only device's, an unsigned one, a pack's own header) is
// stored again, so that a device with the data keys cannot make a backup
// skip a blob by listing a false copy of it ahead of time.
func (m *Master) Has(id blob.ID) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	bi, k := split(&id)
	b := &m.buckets[bi]
	for i := b.search(&k); i < len(b.keys) && b.keys[i] == k; i++ {
		if b.vals[i].trusted() && !m.excluded(b.vals[i]) {
			return true
		}
	}
	return false
}

// find returns the bucket and position of the first entry for id that is
// not in an excluded pack. The caller holds the read lock.
func (m *Master) find(id *blob.ID) (*bucket, int, bool) {
	bi, k := split(id)
	b := &m.buckets[bi]
	for i := b.search(&k); i < len(b.keys) && b.keys[i] == k; i++ {
		if !m.excluded(b.vals[i]) {
			return b, i, true
		}
	}
	return nil, 0, false
}

// excluded reports whether v is in an excluded pack. The caller holds the
// read lock.
func (m *Master) excluded(v val) bool {
	return m.packs.anyExcluded && m.packs.excluded[v.num()]
}

func (m *Master) location(v val) Location {
	return Location{Pack: m.packs.ids[v.num()], Type: v.typ(), Offset: v.offset, Length: v.length, RawLength: v.raw}
}

// Reserve claims the blob for this caller to store: it returns true only
// if the blob is neither found by Lookup nor already reserved, so of many
// concurrent callers exactly one stores a given blob. The winner must end
// the reservation with AddPack once the blob is stored, or with Release if
// storing it failed.
func (m *Master) Reserve(id blob.ID) bool {
	m.resMu.Lock()
	defer m.resMu.Unlock()
	if _, ok := m.reserved[id]; ok || m.Has(id) {
		return false
	}
	m.reserved[id] = struct{}{}
	return true
}

// Release ends a reservation without adding the blob, so that another
// caller may store it.
func (m *Master) Release(id blob.ID) {
	m.resMu.Lock()
	defer m.resMu.Unlock()
	delete(m.reserved, id)
}

// Len returns the number of entries added, counting a blob once per
// distinct location listed for it, excluded packs included.
func (m *Master) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.n
}

// Packs returns, in ascending order, every pack added, excluded packs
// included.
func (m *Master) Packs() []blob.ID {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.packs.sorted()
}

// Each calls fn for every entry not in an excluded pack, in ascending order
// of prefix (the copies of one blob in the order added), until fn returns
// false. It holds the read lock throughout: fn must not add to m, exclude,
// or reserve.
func (m *Master) Each(fn func(Prefix, Location) bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for bi := range m.buckets {
		b := &m.buckets[bi]
		for i, v := range b.vals {
			if !m.excluded(v) && !fn(prefix(uint16(bi), &b.keys[i]), m.location(v)) {
				return
			}
		}
	}
}

// Exclude makes Lookup, Has, Reserve and Each treat the blobs of the given
// packs as absent, including packs added later. Exclusion is for good.
func (m *Master) Exclude(packs []blob.ID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range packs {
		m.packs.exclude(id)
	}
}
