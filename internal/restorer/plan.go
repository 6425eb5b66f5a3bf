package restorer

import (
	"cmp"
	"slices"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/index"
)

// Reads of a pack are joined when the bytes between the blobs they want
// are fewer than maxGap, up to maxRead bytes a read: over a server one
// request costs more than skipping a small gap, and a pack (16 MiB) is
// mostly one read.
const (
	maxGap  = 1 << 20
	maxRead = 32 << 20
)

// target is one place a blob's plaintext goes: length bytes (what the tree
// says the blob holds) at off in a file.
type target struct {
	file   *pending
	off    int64
	length uint64
}

// need is a blob a batch must write, with where it is stored and every
// place it goes: it is read and decrypted once, however many files, or
// places in one file, hold it.
type need struct {
	id      blob.ID
	loc     index.Location
	located bool // false: read it through the fallback (not in the index, or not where a plan can read it)
	targets []target
	seq     int // the blob's rank in the order the walk first needed it
}

// plan is a batch of blobs to restore, grouped by pack. It does no I/O.
type plan struct {
	blobs   map[blob.ID]*need
	targets int
}

func newPlan() *plan { return &plan{blobs: make(map[blob.ID]*need)} }

// add records that the data blob id goes to t. locate says where the blob
// is stored, or false if a plan cannot read it.
func (p *plan) add(id blob.ID, t target, locate func(blob.ID) (index.Location, bool)) {
	n := p.blobs[id]
	if n == nil {
		n = &need{id: id, seq: len(p.blobs)}
		n.loc, n.located = locate(id)
		p.blobs[id] = n
	}
	n.targets = append(n.targets, t)
	p.targets++
}

// read is one ranged read of a pack and the blobs it yields, in order.
type read struct {
	pack       blob.ID
	start, end int64
	needs      []*need
}

// reads returns the plan's located blobs as ranged reads, each pack's
// blobs in offset order, joined as maxGap and maxRead allow, and the
// blobs that must be read through the fallback. Every located blob is in
// exactly one read, so no pack range is read twice. The reads come in the
// order the walk first needed one of their blobs, and the fallback's
// blobs in the order it needed them: files are then created and finished
// roughly in path order, a few directories at a time, so that the Root's
// cache of directory handles keeps the ones in use instead of resolving a
// path for most files.
func (p *plan) reads() ([]read, []*need) {
	byPack := make(map[blob.ID][]*need)
	var rest []*need
	for _, n := range p.blobs {
		if n.located {
			byPack[n.loc.Pack] = append(byPack[n.loc.Pack], n)
		} else {
			rest = append(rest, n)
		}
	}
	var out []read
	for pk, needs := range byPack {
		out = append(out, cut(pk, needs)...)
	}
	slices.SortFunc(out, func(a, b read) int { return cmp.Compare(a.first(), b.first()) })
	slices.SortFunc(rest, func(a, b *need) int { return cmp.Compare(a.seq, b.seq) })
	return out, rest
}

// first returns the lowest seq of rd's blobs (distinct for distinct reads,
// since every blob is in one read only).
func (rd read) first() int {
	m := rd.needs[0].seq
	for _, n := range rd.needs[1:] {
		m = min(m, n.seq)
	}
	return m
}

// cut sorts one pack's blobs by offset and cuts them into reads.
func cut(pk blob.ID, needs []*need) []read {
	slices.SortFunc(needs, func(a, b *need) int { return cmp.Compare(a.loc.Offset, b.loc.Offset) })
	var out []read
	for _, n := range needs {
		start, end := int64(n.loc.Offset), int64(n.loc.Offset)+int64(n.loc.Length)
		if k := len(out) - 1; k >= 0 && start >= out[k].end && start-out[k].end < maxGap && end-out[k].start <= maxRead {
			out[k].end = end
			out[k].needs = append(out[k].needs, n)
			continue
		}
		out = append(out, read{pack: pk, start: start, end: end, needs: []*need{n}})
	}
	return out
}
