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

// witnessState is a configured witness and the size of the last
// checkpoint it cosigned, as far as this process knows (0 at start: a
// witness that holds another size says so, and is asked again from there).
type witnessState struct {
	Witness
	verifier note.Verifier
	size     uint64 // only touched by the holder of publisher.turn
}

// publisher signs checkpoints of the log in the database, has them
// cosigned and stores them. One publishes at a time, in whichever request
// needs a checkpoint: appends that arrive meanwhile are covered by the
// next one, so concurrent appends share checkpoints.
type publisher struct {
	db        meta.DB
	log       *slog.Logger
	key       *logKey
	verifier  note.Verifier // of key
	witnesses []*witnessState
	client    *http.Client
	turn      chan struct{} // holds one token: the right to publish
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
	p := &publisher{db: db, log: log, key: key, verifier: v, witnesses: ws, client: &http.Client{Timeout: witnessTimeout}, turn: make(chan struct{}, 1)}
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
		select {
		case <-p.turn:
		case <-ctx.Done():
			return fmt.Errorf("no checkpoint covers the first %d log leaves: %w", n, ctx.Err())
		}
		ok, err := p.covered(ctx, n)
		if !ok && err == nil {
			// Not cut short by the client: the checkpoint serves everyone.
			err = p.publish(context.WithoutCancel(ctx))
		}
		p.turn <- struct{}{}
		if err != nil {
			return err
		}
	}
}

// refresh publishes the log's checkpoint every interval until ctx is
// done, whether or not leaves were added, so that the witnesses cosign
// the current tree again with a fresh timestamp.
func (p *publisher) refresh(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := p.publishTurn(ctx); err != nil && ctx.Err() == nil {
			p.log.Error("refreshing the log's checkpoint", "error", err.Error())
		}
	}
}

// publishTurn publishes once it has the turn.
func (p *publisher) publishTurn(ctx context.Context) error {
	select {
	case <-p.turn:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { p.turn <- struct{}{} }()
	return p.publish(ctx)
}

// publish signs a checkpoint of the whole log, has it cosigned by the
// witnesses that answer, and stores it. A witness that does not answer
// keeps its cosignature of the same tree in the stored checkpoint, if it
// has one, until clients find it too old.
func (p *publisher) publish(ctx context.Context) error {
	size, err := p.db.LogSize(ctx)
	if err != nil {
		return err
	}
	root, err := xtlog.TreeHash(int64(size), dbHashes{ctx, p.db})
	if err != nil {
		return fmt.Errorf("root of the log at size %d: %w", size, err)
	}
	signed, err := tlog.Sign(tlog.Checkpoint{Origin: p.key.signer.Name(), Size: size, Root: root}.Body(), p.key.signer)
	if err != nil {
		return err
	}
	lines := p.cosign(ctx, size, signed)
	if err := p.keepCosignatures(ctx, signed, lines); err != nil {
		return err
	}
	cosigned := append(signed, bytes.Join(lines, nil)...)
	if err := p.db.PutCheckpoint(ctx, size, cosigned); err != nil {
		return err
	}
	p.log.Info("log checkpoint published", "size", size, "signatures", bytes.Count(cosigned, []byte("\n— ")))
	return nil
}

// keepCosignatures fills in, for each witness without lines, the lines of
// the stored checkpoint that are its valid cosignatures of signed: those
// of the same tree, cosigned before.
func (p *publisher) keepCosignatures(ctx context.Context, signed []byte, lines [][]byte) error {
	_, stored, err := p.db.Checkpoint(ctx)
	if errors.Is(err, meta.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	_, sigs, _ := bytes.Cut(stored, []byte("\n\n"))
	for i, w := range p.witnesses {
		if lines[i] == nil {
			lines[i] = p.verifiedLines(w, signed, sigs)
		}
	}
	return nil
}

// cosign asks every witness at once to cosign the signed checkpoint and
// returns, per witness, the cosignature lines of those that did; the
// others are logged.
func (p *publisher) cosign(ctx context.Context, size uint64, signed []byte) [][]byte {
	lines := make([][]byte, len(p.witnesses))
	var wg sync.WaitGroup
	for i, w := range p.witnesses {
		wg.Go(func() {
			wctx, cancel := context.WithTimeout(ctx, witnessTimeout)
			defer cancel()
			l, err := p.submit(wctx, w, size, signed)
			if err != nil {
				p.log.Warn("witness did not cosign the log checkpoint", "witness", w.verifier.Name(), "url", w.URL, "size", size, "error", err.Error())
				return
			}
			lines[i] = l
		})
	}
	wg.Wait()
	return lines
}

// submit sends the checkpoint to one witness with a consistency proof from
// the size it last cosigned, once more from the size it says it holds if
// that differs, and returns its cosignature lines that verify.
func (p *publisher) submit(ctx context.Context, w *witnessState, size uint64, signed []byte) ([]byte, error) {
	old := w.size
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
		w.size = size
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
