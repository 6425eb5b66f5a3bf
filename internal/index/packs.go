package index

import (
	"slices"

	"github.com/coffer-backup/coffer/internal/blob"
)

// packTable numbers the packs Master knows, so that entries refer to a
// pack with 4 bytes instead of 32. It costs 38 bytes a pack: no Go map,
// whose overhead would cost about twice that. Numbers stay below treeBit
// (2^31) in any table that fits in memory: 2^31 packs would take 74 GiB.
type packTable struct {
	ids      []blob.ID // by pack number
	byID     []uint32  // pack numbers in ascending order of ID
	excluded []bool    // by pack number
	// data marks, by pack number, the packs listed with a data blob; the
	// others are tree packs (docs/format.md §6.7).
	data []bool
	// anyExcluded is set by the first exclusion, so that lookups need not
	// read excluded until then.
	anyExcluded bool
	// excludeLater holds excluded packs not known yet, to exclude them
	// when they are added.
	excludeLater map[blob.ID]struct{}
}

// find returns the position in byID of the pack, or where it would go.
func (t *packTable) find(id *blob.ID) (int, bool) {
	return slices.BinarySearchFunc(t.byID, id, func(n uint32, id *blob.ID) int { return compareID(&t.ids[n], id) })
}

// intern returns the number of every pack in packs, in order, numbering
// the packs it does not know yet. It sorts the batch first so that the new
// numbers merge into byID in one pass.
func (t *packTable) intern(packs []Pack) []uint32 {
	order := make([]int, len(packs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(x, y int) int { return compareID(&packs[x].ID, &packs[y].ID) })
	nums := make([]uint32, len(packs))
	var added []uint32 // in ascending order of ID
	for k, i := range order {
		id := &packs[i].ID
		if k > 0 && packs[order[k-1]].ID == *id {
			nums[i] = nums[order[k-1]]
		} else if pos, ok := t.find(id); ok {
			nums[i] = t.byID[pos]
		} else {
			nums[i] = t.add(id)
			added = append(added, nums[i])
		}
	}
	n := len(t.byID)
	t.byID = extend(t.byID, len(added))
	mergeBack(n, len(added),
		func(i, j int) bool { return compareID(&t.ids[t.byID[i]], &t.ids[added[j]]) > 0 },
		func(from, to, count int) { copy(t.byID[to:to+count], t.byID[from:]) },
		func(j, to int) { t.byID[to] = added[j] })
	return nums
}

// add numbers a new pack; the caller files the number in byID.
func (t *packTable) add(id *blob.ID) uint32 {
	n := uint32(len(t.ids))
	t.ids, t.excluded, t.data = extend(t.ids, 1), extend(t.excluded, 1), extend(t.data, 1)
	t.ids[n], t.data[n] = *id, false
	_, t.excluded[n] = t.excludeLater[*id]
	delete(t.excludeLater, *id)
	return n
}

// exclude marks the pack excluded, now or when it is added.
func (t *packTable) exclude(id blob.ID) {
	t.anyExcluded = true
	if pos, ok := t.find(&id); ok {
		t.excluded[t.byID[pos]] = true
		return
	}
	if t.excludeLater == nil {
		t.excludeLater = make(map[blob.ID]struct{})
	}
	t.excludeLater[id] = struct{}{}
}

// markData records that pack number n is listed with a data blob.
func (t *packTable) markData(n uint32, blobs []Blob) {
	for _, b := range blobs {
		if b.Type != blob.Tree {
			t.data[n] = true
			return
		}
	}
}

// sorted returns the IDs of all packs in ascending order.
func (t *packTable) sorted() []blob.ID {
	out := make([]blob.ID, len(t.byID))
	for i, n := range t.byID {
		out[i] = t.ids[n]
	}
	return out
}
