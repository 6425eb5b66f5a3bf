package witness

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"golang.org/x/mod/sumdb/note"

	"github.com/coffer-backup/coffer/internal/tlog"
)

// SizeContentType is the media type of a 409 response that carries the
// witness's tree size.
const SizeContentType = "text/x.tlog.size"

// Witness cosigns checkpoints of known logs (C2SP tlog-witness,
// docs/transparency.md §T.4). It is an http.Handler for
// "POST /add-checkpoint" and safe for concurrent use: checking a request
// against a log's state and recording the new state happen under one lock.
type Witness struct {
	mu        sync.Mutex
	state     Store
	signer    note.Signer
	logs      map[string]note.Verifier
	maxGrowth uint64
}

// An Option configures a Witness.
type Option func(*Witness)

// MaxGrowth sets the most leaves one cosigned checkpoint may add to the
// last one the witness cosigned for its log (tlog.MaxGrowth unless set;
// at least 1). A log the witness never cosigned may start at up to
// tlog.MaxFirstSize leaves, or n if larger.
func MaxGrowth(n uint64) Option {
	return func(w *Witness) { w.maxGrowth = max(n, 1) }
}

// New returns a witness that cosigns with signer (a tlog.NewCosigner)
// the checkpoints of logs, keyed by origin, each verified by its log's
// key, whose name must be the origin.
func New(state Store, signer note.Signer, logs map[string]note.Verifier, opts ...Option) (*Witness, error) {
	if state == nil || signer == nil {
		return nil, errors.New("witness needs a state store and a signer")
	}
	for origin, v := range logs {
		if v == nil || v.Name() != origin {
			return nil, fmt.Errorf("witness: the key for log %q must be named by its origin", origin)
		}
	}
	w := &Witness{state: state, signer: signer, logs: logs, maxGrowth: tlog.MaxGrowth}
	for _, o := range opts {
		o(w)
	}
	return w, nil
}

// refusal is a request the witness answers with an HTTP error.
type refusal struct {
	status int
	msg    string
	size   uint64 // for 409 with SizeContentType
	isSize bool
}

func (r *refusal) Error() string { return r.msg }

func refuse(status int, format string, args ...any) *refusal {
	return &refusal{status: status, msg: fmt.Sprintf(format, args...)}
}

// ServeHTTP answers POST /add-checkpoint with the cosignature line, or
// with C2SP's status codes: 400 malformed or growing the log by more than
// the witness's bound (C2SP has no code of its own for it), 403 bad log
// signature, 404
// unknown log, 409 wrong old size (always with the witness's size as
// body), 422 a different root at the same size or a bad consistency
// proof (both inconsistent with what it cosigned, as tlog-witness says
// since C2SP/C2SP#280).
func (w *Witness) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/add-checkpoint" {
		http.NotFound(rw, r)
		return
	}
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		http.Error(rw, "add-checkpoint takes POST", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, int64(MaxRequestSize)))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		http.Error(rw, fmt.Sprintf("request of more than %d bytes", MaxRequestSize), http.StatusRequestEntityTooLarge)
		return
	} else if err != nil {
		http.Error(rw, "reading the request failed", http.StatusBadRequest)
		return
	}
	line, err := w.add(body)
	var ref *refusal
	switch {
	case errors.As(err, &ref) && ref.isSize:
		rw.Header().Set("Content-Type", SizeContentType)
		rw.WriteHeader(ref.status)
		fmt.Fprintf(rw, "%d\n", ref.size)
	case errors.As(err, &ref):
		http.Error(rw, ref.msg, ref.status)
	case err != nil:
		http.Error(rw, "witness failed to record its state", http.StatusInternalServerError)
	default:
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		// A client that is gone can resubmit: the same checkpoint is
		// cosigned again.
		_, _ = rw.Write(line)
	}
}

// add checks a request body and returns the cosignature line, or a
// *refusal, or another error if the state could not be read or written.
func (w *Witness) add(body []byte) ([]byte, error) {
	oldSize, proof, signed, err := ParseRequest(body)
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "%v", err)
	}
	c, err := w.verify(signed)
	if err != nil {
		return nil, err
	}
	if oldSize > c.Size {
		return nil, refuse(http.StatusBadRequest, "old size %d is beyond the checkpoint's size %d", oldSize, c.Size)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	st, found, err := w.state.Get(c.Origin)
	if err != nil {
		return nil, err
	}
	switch {
	case oldSize != st.Size:
		return nil, &refusal{status: http.StatusConflict, msg: "old size differs", size: st.Size, isSize: true}
	case found && c.Size == st.Size && c.Root != st.Root:
		return nil, refuse(http.StatusUnprocessableEntity, "%s has another root hash at size %d than the checkpoint cosigned before", c.Origin, c.Size)
	case c.Size-st.Size > w.growthLimit(found):
		return nil, refuse(http.StatusBadRequest, "%s would grow from %d to %d leaves, more than the %d this witness cosigns at once", c.Origin, st.Size, c.Size, w.growthLimit(found))
	}
	if err := tlog.VerifyConsistencyProof(proof, oldSize, st.Root, *c); err != nil {
		return nil, refuse(http.StatusUnprocessableEntity, "%v", err)
	}
	text := c.Body()
	cosigned, err := note.Sign(&note.Note{Text: string(text)}, w.signer)
	if err != nil {
		return nil, err
	}
	if err := w.state.Put(c.Origin, State{Size: c.Size, Root: c.Root}); err != nil {
		return nil, err
	}
	return cosigned[len(text)+1:], nil
}

// growthLimit is the most leaves a checkpoint may add to the witness's
// state of a log, found or not.
func (w *Witness) growthLimit(found bool) uint64 {
	if !found {
		return max(w.maxGrowth, tlog.MaxFirstSize)
	}
	return w.maxGrowth
}

// verify checks that signed is a checkpoint of a known log signed by it.
func (w *Witness) verify(signed []byte) (*tlog.Checkpoint, error) {
	unverified, err := tlog.ParseUnverified(signed)
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "%v", err)
	}
	v, ok := w.logs[unverified.Origin]
	if !ok {
		return nil, refuse(http.StatusNotFound, "unknown log %q", unverified.Origin)
	}
	c, _, err := tlog.Policy{Log: v}.Verify(signed)
	switch {
	case errors.Is(err, tlog.ErrMalformed):
		return nil, refuse(http.StatusBadRequest, "%v", err)
	case err != nil:
		return nil, refuse(http.StatusForbidden, "%v", err)
	}
	return c, nil
}
