// Package pruner frees the space of blobs that no snapshot refers to any
// more, while backups keep writing to the same store (docs/format.md §8.3).
//
// Prune works in two phases. Phase 1 finds the packs that hold no
// referenced blob, repacks the referenced blobs of mostly unused packs,
// and records all those packs in a prune plan. Backups that start after the
// plan is visible treat its packs as absent (repo.LoadIndex), so they never
// come to depend on them; the plan names the backup sessions that were
// running when it became visible. Phase 2 runs once all of those sessions
// have ended: it recomputes what every current snapshot references, keeps
// ("resurrects") any planned pack that holds the only copy of such a blob,
// rewrites the index objects that name the other packs, and deletes them.
//
// Every step is idempotent and may be interrupted: the next prune finishes
// the work, and no reader ever depends on an object before it is written or
// after it is deleted.
package pruner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store"
)

// DefaultRepackFraction is the share of a pack's blob bytes that must be
// unreferenced before prune repacks it.
const DefaultRepackFraction = 1.0 / 3

// Options tune a prune.
type Options struct {
	// DryRun computes what prune would plan and delete, and changes
	// nothing: no marker, plan, pack or index object is written or deleted.
	DryRun bool
	// Forgotten lists snapshots to plan as if they were already deleted:
	// a dry run of forget --prune shows what the real run would free.
	Forgotten []blob.ID
	// RepackFraction, in (0, 1], is the unreferenced share of a pack's
	// blob bytes above which its referenced blobs are repacked and it is
	// deleted. Zero means DefaultRepackFraction; 1 turns repacking of
	// partly used packs off (small packs are still merged).
	RepackFraction float64
	// Now is the clock that judges session markers stale and dates plans;
	// nil means time.Now.
	Now func() time.Time
	// IgnoreSessions lists backup sessions, by ID or an ID prefix of at
	// least 8 hex digits, that the user says have ended (a backup killed
	// with its marker left behind): their markers are deleted as stale
	// ones are, so plans stop waiting for them. A session still running
	// may then lose packs it relies on: the user answers for it.
	IgnoreSessions []string

	// hook, if set, runs after each step of the protocol; an error stops
	// the prune there, as a crash would (tests only).
	hook func(step string) error
	// goneCheck, if set, replaces repo.SessionInfo.Gone (tests only).
	goneCheck func(repo.SessionInfo) bool
}

// gone reports whether the process of a session's backup provably no
// longer runs, so that plans stop waiting for it at once.
func (o *Options) gone(s repo.SessionInfo) bool {
	if o.goneCheck != nil {
		return o.goneCheck(s)
	}
	return s.Gone()
}

// Steps after which Options.hook runs, in protocol order.
const (
	stepRepacked      = "repacked"       // new packs and their index written
	stepPlanOpen      = "plan-open"      // plan written without its session list
	stepPlanComplete  = "plan-complete"  // plan with its session list written
	stepIndexWritten  = "index-written"  // index objects omitting the deleted packs written
	stepPackDeleted   = "pack-deleted"   // one pack deleted
	stepIndexDeleted  = "index-deleted"  // superseded index objects deleted
	stepPlansFinished = "plans-finished" // completed plans deleted
)

// Result tells what a prune did, or in a dry run what it would do.
type Result struct {
	PlannedPacks     int      `json:"planned_packs"`     // packs put in a new plan
	PlannedBytes     int64    `json:"planned_bytes"`     // their size
	RepackedPacks    int      `json:"repacked_packs"`    // planned packs whose referenced blobs were copied
	RepackedBlobs    int      `json:"repacked_blobs"`    // blobs copied into new packs
	DeletedPacks     int      `json:"deleted_packs"`     // packs deleted
	BytesFreed       int64    `json:"bytes_freed"`       // their size
	ResurrectedPacks int      `json:"resurrected_packs"` // planned packs kept because a snapshot needs them
	WrittenIndex     int      `json:"written_index"`     // index objects written to replace others
	DeletedIndex     int      `json:"deleted_index"`     // index objects deleted
	CompletedPlans   int      `json:"completed_plans"`   // plans carried out and deleted
	Pending          []string `json:"pending,omitempty"` // plans still waiting for backups in progress
	// WaitingFor are the backup sessions that the pending plans wait for.
	WaitingFor     []Waiting `json:"waiting_for,omitempty"`
	StaleSessions  int       `json:"stale_sessions"`  // markers of crashed backups deleted
	VerifiedCopies int       `json:"verified_copies"` // copies read to authenticate them before relying on them
	VerifiedBytes  int64     `json:"verified_bytes"`  // bytes read for that, pack headers aside
	BadCopies      int       `json:"bad_copies"`      // copies found not to authenticate
}

// Prune carries out every pending plan whose sessions have ended, then plans
// the next deletion and, if no backup is in progress, carries it out too.
// It replaces r.Index with its own view of the store, which includes
// planned packs; call r.LoadIndex before using r for a backup.
func Prune(ctx context.Context, r *repo.Repo, opts Options) (*Result, error) {
	if opts.RepackFraction == 0 {
		opts.RepackFraction = DefaultRepackFraction
	}
	if !(opts.RepackFraction > 0 && opts.RepackFraction <= 1) {
		return nil, fmt.Errorf("prune: repack fraction %v is not in (0, 1]", opts.RepackFraction)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	p := &pruner{r: r, opts: opts, refs: newRefs(), verify: newVerifier(r)}
	defer r.OnUpload(nil)
	var err error
	for range maxRuns {
		// An object that vanishes under us was deleted by a concurrent
		// prune; every step being idempotent, we look again and go on.
		if err = p.run(ctx); !errors.Is(err, store.ErrNotFound) {
			break
		}
	}
	p.res.VerifiedCopies = int(p.verify.copies.Load())
	p.res.VerifiedBytes = p.verify.bytes.Load()
	p.res.BadCopies += int(p.verify.bad.Load())
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	return &p.res, nil
}

// maxRuns bounds how often Prune starts over after a concurrent prune
// deleted something it was reading.
const maxRuns = 3

type pruner struct {
	r      *repo.Repo
	opts   Options
	refs   *refs
	res    Result
	verify *verifier
	// keepers maps each referenced blob with copies in several packs not
	// yet planned to the pack whose copy phase 1 authenticated.
	keepers map[index.Prefix]blob.ID
	// copied holds the blobs repack stored again in this prune.
	copied map[index.Prefix]bool
}

func (p *pruner) run(ctx context.Context) error {
	st, err := p.load(ctx)
	if err != nil {
		return err
	}
	if err := p.completeOpenPlans(ctx, st); err != nil {
		return err
	}
	wrote, err := p.plan(ctx, st)
	if err != nil {
		return err
	}
	if wrote {
		// Our own writes changed the store: look again, so that the new
		// plan, the new packs and any snapshot finished meanwhile count.
		if st, err = p.load(ctx); err != nil {
			return err
		}
	}
	return p.apply(ctx, st)
}

// step runs the test hook after a step of the protocol.
func (p *pruner) step(name string) error {
	if p.opts.hook == nil {
		return nil
	}
	if err := p.opts.hook(name); err != nil {
		return fmt.Errorf("stopped after step %s: %w", name, err)
	}
	return nil
}

// Waiting is a backup session a pending plan waits for, as its marker
// says (docs/format.md §8.2).
type Waiting struct {
	ID        string    `json:"id"`
	Host      string    `json:"host"`
	Start     time.Time `json:"start"`
	Refreshed time.Time `json:"refreshed"`
}
