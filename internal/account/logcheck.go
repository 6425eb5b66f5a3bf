package account

import (
	"context"
	"errors"
	"fmt"

	"github.com/coffer-backup/coffer/internal/home"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/tlog"
	"github.com/coffer-backup/coffer/internal/transparency"
)

// Log is a server's transparency log as this device checks it: where to
// fetch it, the policy its checkpoints must meet, and where this device
// keeps what it verified (docs/transparency.md §T.5).
type Log struct {
	Fetcher *transparency.Fetcher
	Policy  tlog.Policy
	Key     string // the log's verifier key, which names its saved state
	Dir     string // the directory of saved log states
	Name    string // the account's name to watch, if any
}

// NewLog returns the Log of a server under the policy p.
func NewLog(f *transparency.Fetcher, p home.LogPolicy, dir string) (*Log, error) {
	lv, err := tlog.NewLogVerifier(p.Key)
	if err != nil {
		return nil, fmt.Errorf("the log key this device pinned: %w", err)
	}
	pol := tlog.Policy{Log: lv, Threshold: p.Threshold}
	for _, w := range p.Witnesses {
		v, err := tlog.NewCosignatureVerifier(w)
		if err != nil {
			return nil, fmt.Errorf("witness key %q: %w", w, err)
		}
		pol.Witnesses = append(pol.Witnesses, v)
	}
	l := &Log{Fetcher: f, Policy: pol, Key: p.Key, Dir: dir}
	if len(p.Names) > 0 {
		l.Name = p.Names[0]
	}
	return l, nil
}

// Origin returns the log's origin, the name of its key.
func (l *Log) Origin() string { return l.Policy.Log.Name() }

// Check checks the log against the verified chain c of account, and saves
// the new state only if everything holds: the checkpoint meets the policy
// and extends the one verified before, every entry of c is in the log, and
// the log holds nothing for the account that c does not.
func (l *Log) Check(ctx context.Context, c *Chain, name string) (*transparency.Report, error) {
	st, err := transparency.LoadState(l.Dir, l.Key)
	if err != nil {
		return nil, err
	}
	w, err := transparency.NewWatch(c.Account(), c.Entries, name)
	if err != nil {
		return nil, err
	}
	next, rep, err := transparency.Check(ctx, l.Fetcher, l.Policy, st, w)
	if err != nil {
		return rep, fmt.Errorf("transparency log %s: %w", l.Origin(), err)
	}
	return rep, next.Save(l.Dir, l.Key)
}

// hidden reports whether every alert of rep is of an entry beyond the
// chain, which a device that has not yet synced another device's append
// also sees.
func hidden(rep *transparency.Report) bool {
	if rep == nil || len(rep.Alerts) == 0 {
		return false
	}
	for _, a := range rep.Alerts {
		if a.Kind != transparency.AlertHidden {
			return false
		}
	}
	return true
}

// ErrLog marks a failed transparency check: the client fails closed.
var ErrLog = errors.New("the transparency log does not confirm what the store shows")

// CheckSynced checks the log for the chain c of this device's own
// account; if the log holds entries beyond c, it syncs the chain again and
// checks once more, as another device may just have appended. The caller
// saves the chain it returns.
func (l *Log) CheckSynced(ctx context.Context, cs store.Chain, c *Chain) (*Chain, *transparency.Report, error) {
	rep, err := l.Check(ctx, c, l.Name)
	if err != nil && hidden(rep) {
		if n, serr := c.Sync(ctx, cs); serr == nil && n.Len() > c.Len() {
			c = n
			rep, err = l.Check(ctx, c, l.Name)
		}
	}
	if err != nil {
		return nil, rep, fmt.Errorf("%w: %w", ErrLog, err)
	}
	return c, rep, nil
}
