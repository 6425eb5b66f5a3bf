package pruner

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/pack"
	"github.com/coffer-backup/coffer/internal/repo"
)

// Keepers (docs/format.md §8.3). Any device holding the keys can list
// false copies of blobs (issue 11), so prune relies on a copy, as the one
// that lets it delete the others, only once it has authenticated it:
// opened the envelope its pack's header lists for the blob and checked the
// plaintext against the ID. A pack whose header or one of whose listed
// blobs fails is untrusted for the rest of the prune and never a keeper.
//
// Cost. Only referenced blobs with copies in more than one pack, where one
// of those packs is to be planned or deleted, are verified; the common
// blob with one copy costs nothing. Each verified copy is read at most
// once per prune, each pack's header at most once per round of resolve
// (rounds: at most the number of copies of the most-copied blob), and
// copies this prune sealed itself are trusted without reading. Reads go by
// pack: a pack whose claimed copies make up half its size or more is read
// whole, once; otherwise each copy is read on its own. A lying pack costs
// a header read and one read of a blob (or of itself whole) before it is
// untrusted, however many blobs it names. So the extra reading is at most
// twice the stored size of the copies asked about (those of duplicated
// referenced blobs), plus one header per pack and round: in practice the
// packs written by an interrupted repack, read once.

// verifyWorkers bounds the packs verified at once; each may hold a whole
// pack in memory.
const verifyWorkers = 2

// cand is a pack that holds a copy of a blob, and the copy's length.
type cand struct {
	pack   blob.ID
	length int64
}

// claim asks for one authentic copy of a referenced blob among candidate
// packs, tried in order.
type claim struct {
	prefix index.Prefix
	cands  []cand // each pack once, in order of preference
	next   int    // the candidate to try next
	found  bool   // cands[next] holds an authentic copy
}

// newClaim returns a claim on the packs of locs that skip does not reject,
// each once, in the order of locs.
func newClaim(pr index.Prefix, locs []index.Location, skip func(blob.ID) bool) *claim {
	c := &claim{prefix: pr}
	for _, l := range locs {
		if !skip(l.Pack) && !slices.ContainsFunc(c.cands, func(x cand) bool { return x.pack == l.Pack }) {
			c.cands = append(c.cands, cand{l.Pack, int64(l.Length)})
		}
	}
	return c
}

// keeper returns the candidate whose copy authenticated, if any.
func (c *claim) keeper() (cand, bool) {
	if !c.found {
		return cand{}, false
	}
	return c.cands[c.next], true
}

// copyKey names the copy of a blob in a pack, as the pack's header lists
// it.
type copyKey struct {
	pack   blob.ID
	prefix index.Prefix
}

// verifier authenticates copies for one prune and remembers the outcome.
// It is safe for concurrent use.
type verifier struct {
	r         *repo.Repo
	mu        sync.Mutex
	results   map[copyKey]bool // copies verified, and whether they authenticated
	untrusted map[blob.ID]bool // packs whose header or a listed blob failed
	sealed    map[copyKey]bool // copies this prune sealed and uploaded
	copies    atomic.Int64     // copies read and opened
	bytes     atomic.Int64     // bytes read for them, headers excepted
	bad       atomic.Int64     // copies that failed
}

func newVerifier(r *repo.Repo) *verifier {
	v := &verifier{r: r, results: make(map[copyKey]bool), untrusted: make(map[blob.ID]bool), sealed: make(map[copyKey]bool)}
	r.OnUpload(v.uploaded)
	return v
}

// uploaded records the copies of a pack this prune sealed itself.
func (v *verifier) uploaded(p index.Pack) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, b := range p.Blobs {
		v.sealed[copyKey{p.ID, index.PrefixOf(b.ID)}] = true
	}
}

// resolve finds, for every claim, the first candidate whose copy
// authenticates, or none. It goes in rounds: each round groups the open
// claims by the pack each tries next and verifies each pack's share at
// once; a claim whose candidate fails moves on to the next. Errors are
// those of reading (a pack that vanished, a network failure), never of
// false bytes.
func (v *verifier) resolve(ctx context.Context, sizes map[blob.ID]int64, claims []*claim) error {
	for {
		byPack := v.pending(claims)
		if len(byPack) == 0 {
			return nil
		}
		packs := slices.Collect(maps.Keys(byPack))
		err := parallelN(ctx, len(packs), verifyWorkers, func(i int) error {
			return v.verifyPack(ctx, packs[i], sizes[packs[i]], byPack[packs[i]])
		})
		if err != nil {
			return err
		}
	}
}

// pending groups the open claims by the candidate each tries next,
// skipping untrusted packs.
func (v *verifier) pending(claims []*claim) map[blob.ID][]*claim {
	v.mu.Lock()
	defer v.mu.Unlock()
	byPack := make(map[blob.ID][]*claim)
	for _, c := range claims {
		for !c.found && c.next < len(c.cands) && v.untrusted[c.cands[c.next].pack] {
			c.next++
		}
		if !c.found && c.next < len(c.cands) {
			id := c.cands[c.next].pack
			byPack[id] = append(byPack[id], c)
		}
	}
	return byPack
}

// verifyPack settles every claim whose next candidate is the pack: found,
// or moved on to its next candidate.
func (v *verifier) verifyPack(ctx context.Context, id blob.ID, size int64, claims []*claim) error {
	todo := v.settleKnown(id, claims)
	if len(todo) == 0 {
		return nil
	}
	entries, err := v.r.PackHeader(ctx, id, size)
	if errors.Is(err, crypt.ErrAuth) || errors.Is(err, pack.ErrInvalid) {
		v.distrust(id)
		entries, err = nil, nil
	}
	if err != nil {
		return err
	}
	src := &packSource{v: v, id: id, size: size, byPrefix: byPrefix(entries)}
	if err := src.preload(ctx, todo); err != nil {
		return err
	}
	for _, c := range todo {
		ok, err := v.verifyCopy(ctx, src, c.prefix)
		if err != nil {
			return err
		}
		v.settle(c, ok)
	}
	return nil
}

// settleKnown settles the claims whose copy in the pack was verified
// before, sealed by this prune, or in an untrusted pack, and returns the
// others.
func (v *verifier) settleKnown(id blob.ID, claims []*claim) []*claim {
	v.mu.Lock()
	defer v.mu.Unlock()
	var todo []*claim
	for _, c := range claims {
		k := copyKey{id, c.prefix}
		ok, known := v.results[k]
		switch {
		case v.sealed[k]:
			c.found = true
		case known || v.untrusted[id]:
			v.settle(c, ok && !v.untrusted[id])
		default:
			todo = append(todo, c)
		}
	}
	return todo
}

// settle records whether the claim's candidate authenticated: the claim
// is found, or moves on to its next candidate.
func (v *verifier) settle(c *claim, ok bool) {
	if ok {
		c.found = true
	} else {
		c.next++
	}
}

// verifyCopy reports whether the pack's header lists an authentic copy of
// the blob with the prefix, remembering the outcome. A listed copy that
// fails makes the pack untrusted; a blob the header does not list is
// another writer's false index entry, which does not.
func (v *verifier) verifyCopy(ctx context.Context, src *packSource, pr index.Prefix) (bool, error) {
	if v.isUntrusted(src.id) {
		return false, nil
	}
	entries := src.byPrefix[pr]
	ok := false
	for _, e := range entries {
		env, err := src.envelope(ctx, e)
		if err != nil {
			return false, err
		}
		v.copies.Add(1)
		if _, err := v.r.OpenBlob(nil, e.Type, e.ID, env, int(e.RawLength)); err == nil {
			ok = true
			break
		}
		v.bad.Add(1)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.results[copyKey{src.id, pr}] = ok
	if !ok && len(entries) > 0 {
		v.untrusted[src.id] = true
	}
	return ok, nil
}

func (v *verifier) isUntrusted(id blob.ID) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.untrusted[id]
}

func (v *verifier) distrust(id blob.ID) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.untrusted[id] = true
}

// sealedFirst orders candidates so that packs holding copies this prune
// sealed come first, keeping the order of the others.
func (v *verifier) sealedFirst(pr index.Prefix, cands []cand) []cand {
	v.mu.Lock()
	defer v.mu.Unlock()
	slices.SortStableFunc(cands, func(a, b cand) int {
		return boolRank(v.sealed[copyKey{b.pack, pr}]) - boolRank(v.sealed[copyKey{a.pack, pr}])
	})
	return cands
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// byPrefix files header entries by the prefix of their ID. A hostile
// header may list several IDs with one prefix; each is tried.
func byPrefix(entries []pack.Entry) map[index.Prefix][]pack.Entry {
	m := make(map[index.Prefix][]pack.Entry, len(entries))
	for _, e := range entries {
		pr := index.PrefixOf(e.ID)
		m[pr] = append(m[pr], e)
	}
	return m
}

// packSource reads the envelopes of one pack, from the whole pack when it
// has read it, else one range at a time.
type packSource struct {
	v        *verifier
	id       blob.ID
	size     int64
	byPrefix map[index.Prefix][]pack.Entry
	whole    []byte
}

// preload reads the whole pack if the copies the claims ask for make up
// half its size or more.
func (s *packSource) preload(ctx context.Context, claims []*claim) error {
	var need int64
	for _, c := range claims {
		for _, e := range s.byPrefix[c.prefix] {
			need += int64(e.Length)
		}
	}
	if need == 0 || 2*need < s.size {
		return nil
	}
	data, err := s.v.r.ReadPackRange(ctx, s.id, 0, s.size)
	s.whole = data
	s.v.bytes.Add(int64(len(data)))
	return err
}

// envelope returns the bytes of e's envelope.
func (s *packSource) envelope(ctx context.Context, e pack.Entry) ([]byte, error) {
	if s.whole != nil {
		return s.whole[e.Offset : e.Offset+e.Length], nil // the header was checked against the size
	}
	s.v.bytes.Add(int64(e.Length))
	return s.v.r.ReadPackRange(ctx, s.id, int64(e.Offset), int64(e.Length))
}
