package repo

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/pack"
)

// BadCopy is a copy of a blob, listed by an index object or a pack header,
// whose bytes are not the blob: they lie beyond the pack's end, or fail
// authentication, decompression or the ID check (docs/format.md §3.0).
type BadCopy struct {
	Pack   blob.ID `json:"pack"`
	Type   string  `json:"type"` // "data" or "tree", as listed
	Blob   blob.ID `json:"blob"`
	Offset uint32  `json:"offset"`
	Length uint32  `json:"length"`
	Reason string  `json:"reason"`
}

// NewBadCopy describes the copy of b in pack that failed with err.
func NewBadCopy(pack blob.ID, b index.Blob, err error) BadCopy {
	return BadCopy{Pack: pack, Type: b.Type.String(), Blob: b.ID, Offset: b.Offset, Length: b.Length, Reason: err.Error()}
}

func (c BadCopy) String() string {
	return fmt.Sprintf("pack %s: %s blob %s at %d+%d: %s", c.Pack, c.Type, c.Blob.Short(), c.Offset, c.Length, c.Reason)
}

// PackVerdict is what reading a whole pack found.
type PackVerdict struct {
	// Good lists every copy that authenticates, each location once, in
	// ascending order of offset: a valid listing of the pack for an index
	// object (docs/format.md §7.1).
	Good []index.Blob
	// Bad lists every other copy the header or the caller listed.
	Bad []BadCopy
	// Problems are about the pack as a whole: bytes that do not hash to
	// its name, a header that cannot be read.
	Problems []string
	// HeaderLies is set when the header cannot be read or lists a copy
	// that does not authenticate: the pack itself is false, not merely
	// an index entry about it.
	HeaderLies bool
}

// VerifyPack reads the pack of size bytes whole and opens every copy that
// its header or listed (the index's entries for it) names, each distinct
// location once, so that it finds every false entry whoever wrote it. It
// returns an error only if the pack cannot be read.
func (r *Repo) VerifyPack(ctx context.Context, id blob.ID, size int64, listed []index.Blob) (*PackVerdict, error) {
	data, err := r.ReadPackRange(ctx, id, 0, size)
	if err != nil {
		return nil, err
	}
	v := &PackVerdict{}
	if crypt.ContentID(data) != id {
		v.Problems = append(v.Problems, "content does not match its name")
	}
	entries, err := pack.ReadHeader(bytes.NewReader(data), size, r.opener)
	if err != nil {
		v.Problems = append(v.Problems, fmt.Sprintf("header: %v", err))
		v.HeaderLies = true
	}
	header := make(map[index.Blob]bool, len(entries))
	for _, b := range candidates(entries, nil) {
		header[b] = true
	}
	for _, b := range candidates(entries, listed) {
		if err := r.verifyCopy(data, b); err != nil {
			v.Bad = append(v.Bad, NewBadCopy(id, b, err))
			v.HeaderLies = v.HeaderLies || header[b]
		} else {
			v.Good = append(v.Good, b)
		}
	}
	return v, nil
}

// verifyCopy opens the copy of b in the pack's bytes.
func (r *Repo) verifyCopy(data []byte, b index.Blob) error {
	end := uint64(b.Offset) + uint64(b.Length)
	if end > uint64(len(data)) {
		return fmt.Errorf("lies beyond the pack's end (%d bytes)", len(data))
	}
	_, err := r.OpenBlob(nil, b.Type, b.ID, data[b.Offset:end], int(b.RawLength))
	return err
}

// candidates merges a pack's header entries with the index's entries for
// it, each distinct location once, in ascending order of offset.
func candidates(entries []pack.Entry, listed []index.Blob) []index.Blob {
	all := slices.Clone(listed)
	for _, e := range entries {
		all = append(all, index.Blob{Type: e.Type, ID: e.ID, Offset: e.Offset, Length: e.Length, RawLength: e.RawLength})
	}
	slices.SortFunc(all, compareBlob)
	return slices.Compact(all)
}

// compareBlob orders listings by offset, then by every other field.
func compareBlob(a, b index.Blob) int {
	return cmp.Or(cmp.Compare(a.Offset, b.Offset), bytes.Compare(a.ID[:], b.ID[:]),
		cmp.Compare(a.Type, b.Type), cmp.Compare(a.Length, b.Length), cmp.Compare(a.RawLength, b.RawLength))
}
