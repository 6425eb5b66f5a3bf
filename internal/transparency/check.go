package transparency

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/coffer-backup/coffer/internal/tlog"
)

// Errors of Check. Each means the log, or the server behind it, showed
// this device something an honest one never would; the caller fails
// closed and keeps its saved state.
var (
	// ErrRollback means the log's checkpoint is smaller than the one this
	// device accepted before.
	ErrRollback = errors.New("the log's checkpoint is older than one this device verified (rolled back)")
	// ErrSplitView means the log's tree does not extend the one this
	// device accepted before: same size and another root, or a failed
	// consistency check. The log shows different histories to different
	// clients.
	ErrSplitView = errors.New("the log shows this device a history inconsistent with what it showed before (split view)")
	// ErrStale means fewer than the policy's threshold of witnesses
	// cosigned the checkpoint recently: the server may be showing this
	// device an old tree, validly cosigned once, to hide newer entries.
	ErrStale = errors.New("the log's checkpoint is not freshly witnessed")
	// ErrGrowth means the checkpoint's tree is more than tlog.MaxGrowth
	// leaves larger than the one this device verified, or larger than
	// tlog.MaxFirstSize on first use: more than an honest log grows, and
	// more than a client can read.
	ErrGrowth = errors.New("the log's tree grew by more than a client reads at once")
	// ErrAlert means the log contradicts the watched account: entries
	// hidden from this device, forked, never logged, or its name mapped
	// elsewhere. The Report lists them.
	ErrAlert = errors.New("transparency alert")
)

// DefaultMaxPending is how long an entry of the verified chain may be
// missing from the log's checkpoints before Check raises AlertUnlogged:
// the server logs an entry in the transaction that accepts it, so only
// publishing and cosigning a checkpoint can lag.
const DefaultMaxPending = 24 * time.Hour

// DefaultMaxAge is how old the policy's threshold of witness cosignatures
// of a checkpoint may be: a server re-submits its checkpoint to its
// witnesses every hour even with no new leaves (docs/transparency.md
// §T.6), so only a server hiding newer checkpoints, or witnesses down for
// a day, lets them age further.
const DefaultMaxAge = 24 * time.Hour

// MaxClockSkew is how far after the device's clock a cosignature may be
// dated and still count as fresh.
const MaxClockSkew = 10 * time.Minute

// MaxAlerts bounds the alerts a Report lists; Suppressed counts the rest.
const MaxAlerts = 64

// A Watch is what this device expects of one account in the log.
type Watch struct {
	// Account is the account's ID.
	Account tlog.AccountID
	// Chain holds the SHA-256 of every entry of the device chain this
	// device verified, Chain[seq] for entry seq; Chain[0] is the genesis.
	Chain []tlog.Hash
	// Name is the account's name, if the device knows it: the log must
	// map it to no other account or genesis.
	Name string
	// Now is the time of the check (zero: time.Now()), MaxPending how
	// long an entry may stay unlogged (zero: DefaultMaxPending), and
	// MaxAge how old the policy's threshold of cosignatures may be (zero:
	// DefaultMaxAge).
	Now        time.Time
	MaxPending time.Duration
	MaxAge     time.Duration
}

// now returns the time of the check.
func (w Watch) now() time.Time {
	if w.Now.IsZero() {
		return time.Now()
	}
	return w.Now
}

// NewWatch returns the Watch of the account with ID accountID (32 hex
// digits) whose verified chain is entries, and its name if known.
func NewWatch(accountID string, entries [][]byte, name string) (Watch, error) {
	id, err := tlog.ParseAccountID(accountID)
	if err != nil {
		return Watch{}, err
	}
	w := Watch{Account: id, Name: name, Chain: make([]tlog.Hash, len(entries))}
	for i, e := range entries {
		w.Chain[i] = sha256.Sum256(e)
	}
	return w, nil
}

// AlertKind says what an Alert found.
type AlertKind int

// Kinds of alerts.
const (
	// AlertHidden: the log holds an entry of the account beyond the chain
	// this device verified. A device that had not synced its chain since
	// another device appended one sees this too: it syncs and checks
	// again once before reporting.
	AlertHidden AlertKind = iota + 1
	// AlertGhost: the log holds, at a seq the chain has, an entry other
	// than the chain's, and not the chain's own before it.
	AlertGhost
	// AlertFork: the log holds two different entries at one seq, or one
	// other than the chain's where the chain's was logged before.
	AlertFork
	// AlertUnlogged: an entry of the chain is not in the log although a
	// later one is, or has stayed out of it longer than MaxPending.
	AlertUnlogged
	// AlertName: the log maps the account's name to another account or
	// another genesis entry.
	AlertName
)

// An Alert is one contradiction between the log and the watched account.
type Alert struct {
	Kind AlertKind
	// Seq is the chain entry concerned (not for AlertName), and Index the
	// leaf of the log that shows it, if any.
	Seq, Index uint64
	Message    string
}

// A Report is what one Check found.
type Report struct {
	// Origin, Size and Root are the checkpoint checked, and Witnesses
	// the names of the policy's witnesses that cosigned it.
	Origin    string
	Size      uint64
	Root      tlog.Hash
	Witnesses []string
	// Read is the number of leaves read and checked by this Check.
	Read uint64
	// Logged is the number of chain entries found in the log, and
	// Pending the seqs of those not in it yet.
	Logged  int
	Pending []uint64
	// NameLogged says whether the log maps the watched name to the
	// account.
	NameLogged bool
	// Alerts lists at most MaxAlerts contradictions; Suppressed counts
	// those left out.
	Alerts     []Alert
	Suppressed int
}

// Check brings this device's view of a log up to date and checks the
// watched account in it (docs/transparency.md §T.5). st is the saved
// state of the log (nil on first use: any checkpoint meeting the policy is
// accepted and the log is read from leaf 0). In order: the checkpoint is
// fetched and verified under policy; it must not be smaller than st's
// (ErrRollback), nor more than tlog.MaxGrowth leaves larger (or above
// tlog.MaxFirstSize on first use; ErrGrowth), nor of st's size with
// another root, nor fail to extend st's tree (ErrSplitView); with a
// threshold of at least one, that many cosignatures must be at most
// w.MaxAge old (ErrStale); the leaves not yet read for this account are
// read, authenticated against the checkpoint, and checked against w.
//
// On success Check returns the new state to save and a Report. On any
// failure it returns a nil state, so the caller keeps the saved one: a
// contradiction found (an error wrapping ErrAlert, with the Report listing
// it) is found again on every later Check until resolved, rather than
// recorded and forgotten.
func Check(ctx context.Context, f *Fetcher, policy tlog.Policy, st *State, w Watch) (*State, *Report, error) {
	if len(w.Chain) == 0 {
		return nil, nil, fmt.Errorf("watching account %s without its genesis entry", w.Account)
	}
	signed, err := f.Checkpoint(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("fetching the log's checkpoint: %w", err)
	}
	c, cosigs, err := policy.Open(signed)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint from %s: %w", f, err)
	}
	if err := extends(ctx, f, st, c); err != nil {
		return nil, nil, err
	}
	if err := fresh(policy.Threshold, cosigs, w); err != nil {
		return nil, nil, fmt.Errorf("checkpoint of %s at size %d: %w", c.Origin, c.Size, err)
	}
	rep := &Report{Origin: c.Origin, Size: c.Size, Root: c.Root}
	for _, cs := range cosigs {
		rep.Witnesses = append(rep.Witnesses, cs.Name)
	}
	s := newScan(st, w, rep)
	for from := s.acct.Scanned; from < c.Size; {
		to := min(c.Size, from+tlog.MaxReadLeaves)
		leaves, err := tlog.ReadLeaves(ctx, f, *c, from, to)
		if err != nil {
			return nil, nil, fmt.Errorf("reading leaves %d to %d of %s: %w", from, to, c.Origin, err)
		}
		for i, b := range leaves {
			if err := s.leaf(from+uint64(i), b); err != nil {
				return nil, nil, err
			}
		}
		from = to
	}
	s.acct.Scanned = c.Size
	s.pending()
	if len(rep.Alerts) > 0 {
		return nil, rep, alertError(rep)
	}
	next := &State{Accounts: map[string]*AccountState{}}
	if st != nil {
		next = st.clone()
	}
	next.Origin, next.Checkpoint, next.Size, next.Root = c.Origin, string(signed), c.Size, c.Root
	next.Accounts[w.Account.String()] = s.acct
	return next, rep, nil
}

// extends checks that the verified checkpoint c may follow the saved
// state st: same origin, no smaller, not absurdly larger, and a tree that
// extends st's.
func extends(ctx context.Context, f *Fetcher, st *State, c *tlog.Checkpoint) error {
	switch {
	case st == nil && c.Size > tlog.MaxFirstSize:
		return fmt.Errorf("%w: %s has %d leaves, more than the %d this device reads on first use", ErrGrowth, c.Origin, c.Size, uint64(tlog.MaxFirstSize))
	case st == nil:
		return nil
	case st.Origin != c.Origin:
		return fmt.Errorf("the saved state of log %q cannot check a checkpoint of %q", st.Origin, c.Origin)
	case c.Size < st.Size:
		return fmt.Errorf("%w: %s is at size %d, this device verified size %d", ErrRollback, c.Origin, c.Size, st.Size)
	case c.Size-st.Size > tlog.MaxGrowth:
		return fmt.Errorf("%w: %s grew from %d to %d leaves since this device last checked it, more than %d at once", ErrGrowth, c.Origin, st.Size, c.Size, tlog.MaxGrowth)
	case c.Size == st.Size && c.Root != st.Root:
		return fmt.Errorf("%w: %s has another root at size %d", ErrSplitView, c.Origin, c.Size)
	case c.Size == st.Size:
		return nil
	}
	err := tlog.VerifyConsistency(ctx, f, st.Size, st.Root, *c)
	if errors.Is(err, tlog.ErrInconsistent) {
		return fmt.Errorf("%w: %w", ErrSplitView, err)
	}
	return err
}

// fresh checks that, if the policy needs witnesses at all, at least
// threshold of the cosignatures are dated no earlier than w's maximum age
// before its time and no later than MaxClockSkew after it. A cosignature
// without a timestamp counts as old.
func fresh(threshold int, cosigs []tlog.Cosignature, w Watch) error {
	if threshold == 0 {
		return nil
	}
	now, maxAge := w.now(), w.MaxAge
	if maxAge == 0 {
		maxAge = DefaultMaxAge
	}
	var times []time.Time
	for _, cs := range cosigs {
		if !cs.Time.After(now.Add(MaxClockSkew)) {
			times = append(times, cs.Time)
		}
	}
	if len(times) < threshold {
		return fmt.Errorf("%w: %d of the %d cosignatures required are dated more than %v after this device's clock (%s): is the clock right?",
			ErrStale, len(cosigs)-len(times), threshold, MaxClockSkew, now.UTC().Format(time.RFC3339))
	}
	slices.SortFunc(times, func(a, b time.Time) int { return b.Compare(a) })
	if age := now.Sub(times[threshold-1]); age > maxAge {
		return fmt.Errorf("%w: the log's newest witnessed checkpoint is %d h old: the server may be hiding newer entries", ErrStale, int64(age.Hours()))
	}
	return nil
}

// alertError summarises the report's alerts as an error wrapping ErrAlert.
func alertError(rep *Report) error {
	msgs := make([]string, 0, 3)
	for _, a := range rep.Alerts[:min(3, len(rep.Alerts))] {
		msgs = append(msgs, a.Message)
	}
	more := ""
	if n := len(rep.Alerts) + rep.Suppressed - len(msgs); n > 0 {
		more = fmt.Sprintf(" (and %d more)", n)
	}
	return fmt.Errorf("%w: %s%s", ErrAlert, strings.Join(msgs, "; "), more)
}
