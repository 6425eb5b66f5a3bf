package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	xtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/coffer-backup/coffer/internal/server/meta"
	"github.com/coffer-backup/coffer/internal/tlog"
	"github.com/coffer-backup/coffer/internal/witness"
)

// Publishing timing (docs/transparency.md §T.6).
const (
	// publishWait bounds how long a request that appended to the log
	// waits for a checkpoint that covers its leaf.
	publishWait = 10 * time.Second
	// witnessTimeout bounds one witness's answer, both tries included.
	witnessTimeout = 5 * time.Second
	// DefaultLogRefresh is how often, with witnesses configured, the
	// log's checkpoint is published again even if no leaf was added, so
	// that witnesses cosign the current tree with a fresh timestamp:
	// clients refuse cosignatures older than a day
	// (transparency.DefaultMaxAge), lest a server freeze their view.
	DefaultLogRefresh = time.Hour
)

// Witness is a witness the log submits its checkpoints to (C2SP
// tlog-witness, docs/transparency.md §T.4).
type Witness struct {
	// VKey is the witness's cosigner verifier key
	// ("<name>+<key ID>+<base64(0x04 || key)>").
	VKey string
	// URL is its submission prefix: checkpoints are POSTed to
	// URL + "/add-checkpoint".
	URL string
}

// refreshChecks is how many times per refresh interval each instance
// looks whether the stored checkpoint has grown as old as the interval.
const refreshChecks = 10

// witnessState is a configured witness. The size of the last checkpoint
// it cosigned is in the database (meta.Publication), shared by every
// instance; a witness that holds another size says so, and is asked again
// from there.
type witnessState struct {
	Witness
	verifier note.Verifier
}

// publisher signs checkpoints of the log in the database, has them
// cosigned and stores them. One publishes at a time, in whichever request
// needs a checkpoint: appends that arrive meanwhile are covered by the
// next one, so concurrent appends share checkpoints. In this process the
// turn queues the publishers; across the processes sharing the database,
// meta.DB.Publish does, and each publisher decides under it, from the
// stored publication, whether another already did its work.
type publisher struct {
	db        meta.DB
	log       *slog.Logger
	key       *logKey
	verifier  note.Verifier // of key
	witnesses []*witnessState
	client    *http.Client
	turn      chan struct{}    // holds one token: this process's right to ask the database for the right to publish
	now       func() time.Time // the wall clock of publication times
}

// parseWitnesses checks the witnesses' keys and URLs.
func parseWitnesses(ws []Witness) ([]*witnessState, error) {
	var out []*witnessState
	seen := map[string]bool{}
	for _, w := range ws {
		wv, err := tlog.NewCosignatureVerifier(w.VKey)
		if err != nil {
			return nil, fmt.Errorf("witness: %w", err)
		}
		if !strings.HasPrefix(w.URL, "https://") && !strings.HasPrefix(w.URL, "http://") {
			return nil, fmt.Errorf("witness %s: URL %q is not http(s)", wv.Name(), w.URL)
		}
		if seen[w.VKey] {
			return nil, fmt.Errorf("witness %s is given twice", wv.Name())
		}
		seen[w.VKey] = true
		out = append(out, &witnessState{Witness: w, verifier: wv})
	}
	return out, nil
}

// newPublisher returns the publisher of the log signed by key.
func newPublisher(db meta.DB, log *slog.Logger, key *logKey, ws []*witnessState) (*publisher, error) {
	v, err := tlog.NewLogVerifier(key.vkey)
	if err != nil {
		return nil, err
	}
	p := &publisher{db: db, log: log, key: key, verifier: v, witnesses: ws, client: &http.Client{Timeout: witnessTimeout}, turn: make(chan struct{}, 1), now: time.Now}
	p.turn <- struct{}{}
	return p, nil
}

// covered reports whether the stored checkpoint covers the first n leaves.
func (p *publisher) covered(ctx context.Context, n uint64) (bool, error) {
	size, _, err := p.db.Checkpoint(ctx)
	if errors.Is(err, meta.ErrNotFound) {
		return false, nil
	}
	return err == nil && size >= n, err
}

// await returns once a stored checkpoint covers the first n leaves of the
// log, publishing one if needed, or fails after publishWait.
func (p *publisher) await(ctx context.Context, n uint64) error {
	ctx, cancel := context.WithTimeout(ctx, publishWait)
	defer cancel()
	for {
		if ok, err := p.covered(ctx, n); ok || err != nil {
			return err
		}
		// Once it has the right, the publication is not cut short by the
		// client: the checkpoint serves everyone.
		err := p.publishTurn(ctx, func(stored meta.Publication) bool { return stored.Note == nil || stored.Size < n })
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("no checkpoint covers the first %d log leaves: %w", n, err)
		}
		if err != nil {
			return err
		}
	}
}

// refresh publishes the log's checkpoint whenever the stored one has
// grown as old as every, until ctx is done, whether or not leaves were
// added, so that the witnesses cosign the current tree again with a fresh
// timestamp. Every instance checks refreshChecks times per interval; the
// first to find the checkpoint old publishes, and the others then find it
// fresh: the cluster publishes once per interval.
func (p *publisher) refresh(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(max(every/refreshChecks, time.Millisecond))
	defer tick.Stop()
	old := func(stored meta.Publication) bool { return p.now().Sub(stored.At) >= every }
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := p.publishTurn(ctx, old); err != nil && ctx.Err() == nil {
			p.log.Error("refreshing the log's checkpoint", "error", err.Error())
		}
	}
}

// publishTurn waits for this process's turn and then for the right to
// publish (both bounded by ctx) and publishes if need says that the
// publication stored by then calls for it.
func (p *publisher) publishTurn(ctx context.Context, need func(meta.Publication) bool) error {
	select {
	case <-p.turn:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { p.turn <- struct{}{} }()
	return p.publishIf(ctx, need)
}

// publishIf publishes, once it has the right, if need says that the
// stored publication calls for it.
func (p *publisher) publishIf(ctx context.Context, need func(meta.Publication) bool) error {
	var done *meta.Publication
	err := p.db.Publish(ctx, func(ctx context.Context, stored meta.Publication) (*meta.Publication, error) {
		if !need(stored) {
			return nil, nil
		}
		var err error
		done, err = p.publish(ctx, stored)
		return done, err
	})
	if err == nil && done != nil {
		p.log.Info("log checkpoint published", "size", done.Size, "signatures", bytes.Count(done.Note, []byte("\n— ")))
	}
	return err
}

// publish signs a checkpoint of the whole log and has it cosigned by the
// witnesses that answer, and returns it to be stored with the witnesses'
// new sizes. A witness that does not answer keeps its cosignature of the
// same tree in the stored checkpoint, if it has one, until clients find it
// too old.
func (p *publisher) publish(ctx context.Context, stored meta.Publication) (*meta.Publication, error) {
	size, err := p.db.LogSize(ctx)
	if err != nil {
		return nil, err
	}
	root, err := xtlog.TreeHash(int64(size), dbHashes{ctx, p.db})
	if err != nil {
		return nil, fmt.Errorf("root of the log at size %d: %w", size, err)
	}
	signed, err := tlog.Sign(tlog.Checkpoint{Origin: p.key.signer.Name(), Size: size, Root: root}.Body(), p.key.signer)
	if err != nil {
		return nil, err
	}
	lines, sizes := p.cosign(ctx, size, signed, stored.Witnesses)
	p.keepCosignatures(signed, lines, stored.Note)
	cosigned := append(signed, bytes.Join(lines, nil)...)
	return &meta.Publication{Size: size, Note: cosigned, At: p.now(), Witnesses: sizes}, nil
}

// keepCosignatures fills in, for each witness without lines, the lines of
// the stored checkpoint that are its valid cosignatures of signed: those
// of the same tree, cosigned before.
func (p *publisher) keepCosignatures(signed []byte, lines [][]byte, stored []byte) {
	_, sigs, _ := bytes.Cut(stored, []byte("\n\n"))
	for i, w := range p.witnesses {
		if lines[i] == nil {
			lines[i] = p.verifiedLines(w, signed, sigs)
		}
	}
}

// cosign asks every witness at once to cosign the signed checkpoint,
// starting from the sizes they last cosigned (held), and returns, per
// witness, the cosignature lines of those that did, and their new sizes;
// the others are logged.
func (p *publisher) cosign(ctx context.Context, size uint64, signed []byte, held map[string]uint64) ([][]byte, map[string]uint64) {
	lines := make([][]byte, len(p.witnesses))
	var wg sync.WaitGroup
	for i, w := range p.witnesses {
		wg.Go(func() {
			wctx, cancel := context.WithTimeout(ctx, witnessTimeout)
			defer cancel()
			l, err := p.submit(wctx, w, held[w.VKey], size, signed)
			if err != nil {
				p.log.Warn("witness did not cosign the log checkpoint", "witness", w.verifier.Name(), "url", w.URL, "size", size, "error", err.Error())
				return
			}
			lines[i] = l
		})
	}
	wg.Wait()
	sizes := map[string]uint64{}
	for i, w := range p.witnesses {
		if lines[i] != nil {
			sizes[w.VKey] = size
		}
	}
	return lines, sizes
}

// submit sends the checkpoint to one witness with a consistency proof from
// old, the size it last cosigned, once more from the size it says it holds
// if that differs, and returns its cosignature lines that verify.
func (p *publisher) submit(ctx context.Context, w *witnessState, old, size uint64, signed []byte) ([]byte, error) {
	for try := 0; ; try++ {
		if old > size {
			return nil, fmt.Errorf("the witness holds a tree of %d leaves, this checkpoint %d", old, size)
		}
		proof, err := p.proof(ctx, old, size)
		if err != nil {
			return nil, err
		}
		lines, held, err := witness.Submit(ctx, p.client, w.URL, old, proof, signed)
		if errors.Is(err, witness.ErrOldSize) && try == 0 {
			old = held
			continue
		}
		if err != nil {
			return nil, err
		}
		good := p.verifiedLines(w, signed, lines)
		if good == nil {
			return nil, fmt.Errorf("no cosignature by %s+%08x in the answer", w.verifier.Name(), w.verifier.KeyHash())
		}
		return good, nil
	}
}

// proof is the consistency proof from the log's tree of size old to that
// of size size; empty when old is 0 or size.
func (p *publisher) proof(ctx context.Context, old, size uint64) ([]tlog.Hash, error) {
	if old == 0 || old == size {
		return nil, nil
	}
	proof, err := xtlog.ProveTree(int64(size), int64(old), dbHashes{ctx, p.db})
	if err != nil {
		return nil, fmt.Errorf("consistency proof from %d to %d leaves: %w", old, size, err)
	}
	return proof, nil
}

// verifiedLines keeps the lines that are valid cosignatures of the signed
// checkpoint by the witness's key.
func (p *publisher) verifiedLines(w *witnessState, signed, lines []byte) []byte {
	policy := tlog.Policy{Log: p.verifier, Witnesses: []note.Verifier{w.verifier}, Threshold: 1}
	var good []byte
	for _, l := range bytes.SplitAfter(lines, []byte("\n")) {
		if _, _, err := policy.Verify(append(bytes.Clone(signed), l...)); err == nil && len(l) > 0 {
			good = append(good, l...)
		}
	}
	return good
}

// dbHashes reads the log's stored hashes from the database; it is an
// x/mod tlog.HashReader.
type dbHashes struct {
	ctx context.Context
	db  meta.DB
}

func (r dbHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	return r.db.LogHashes(r.ctx, indexes)
}
