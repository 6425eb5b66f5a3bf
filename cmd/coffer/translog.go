package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/coffer-backup/coffer/internal/account"
	"github.com/coffer-backup/coffer/internal/home"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/remote"
	"github.com/coffer-backup/coffer/internal/transparency"
)

// logsDir is where a home keeps the log states it verified.
func logsDir(h *home.Home) string { return filepath.Join(h.Dir, "logs") }

// serverLog returns the transparency log of the server store st at loc
// under the policy this device keeps for it, or nil for a directory store.
func serverLog(h *home.Home, loc string, st store.Store) (*account.Log, error) {
	rs, ok := st.(*remote.Store)
	if !ok {
		return nil, nil
	}
	s, err := h.Settings()
	if err != nil {
		return nil, err
	}
	p, ok := s.Logs[loc]
	if !ok {
		return nil, withHint(fmt.Errorf("this device has no transparency-log policy for %s", loc), "run 'coffer init', 'join' or 'recover' for this store on this device")
	}
	f, err := transparency.NewFetcher(rs.HTTPClient(), rs.BaseURL())
	if err != nil {
		return nil, err
	}
	return account.NewLog(f, p, logsDir(h))
}

// pinLog records the log policy of a server for this device: the log key
// given with --log-key, or else the one the server states (trusted on
// first use, like an SSH host key), and the witnesses the user named. A
// policy this device already holds for the server is never weakened: its
// key stays (another is refused), and witnesses and names only add up.
func (e *env) pinLog(ctx context.Context, h *home.Home, loc string, st store.Store, names ...string) error {
	rs, ok := st.(*remote.Store)
	if !ok {
		return nil
	}
	if e.o.witnessThreshold > len(e.o.witnesses) {
		return usageError{fmt.Sprintf("--witness-threshold %d needs at least %d --witness keys", e.o.witnessThreshold, e.o.witnessThreshold)}
	}
	s, err := h.Settings()
	if err != nil {
		return err
	}
	stated := func() (string, error) { return serverLogKey(ctx, rs) }
	p, err := s.PinLog(loc, e.o.logKey, stated, e.o.witnesses, e.o.witnessThreshold, names)
	if errors.Is(err, home.ErrLogKeyChanged) {
		return withHint(fmt.Errorf("%s: %w", loc, err), "a server does not change its log key; if you are sure it did, remove its entry from \"logs\" in "+filepath.Join(h.Dir, "settings.json"))
	}
	if err != nil {
		return err
	}
	if p.Threshold == 0 {
		e.say("warning: no witnesses: the server could show this device a log of its own making; pass --witness to require independent cosigners (docs/transparency.md)")
	}
	return h.SaveSettings(s)
}

// serverLogKey reads the log key the server states.
func serverLogKey(ctx context.Context, rs *remote.Store) (string, error) {
	f, err := transparency.NewFetcher(rs.HTTPClient(), rs.BaseURL())
	if err != nil {
		return "", err
	}
	key, err := f.VerifierKey(ctx)
	if err != nil {
		return "", fmt.Errorf("reading the server's log key: %w", err)
	}
	return key, nil
}

// checkLog checks the log of a server store against the chain c, failing
// closed; it returns the chain, synced again if the log was ahead.
func (e *env) checkLog(ctx context.Context, h *home.Home, loc string, st store.Store, c *account.Chain) (*account.Chain, *transparency.Report, error) {
	l, err := serverLog(h, loc, st)
	if err != nil || l == nil {
		return c, nil, err
	}
	c, rep, err := l.CheckSynced(ctx, store.ChainOf(st), c)
	if err != nil {
		for _, a := range alerts(rep) {
			e.say("alert: %s", a)
		}
		if errors.Is(err, transparency.ErrAlert) {
			return nil, rep, withHint(err, "another party may control your account or show you a false view of it: check your devices with 'coffer device list' on each of them, and report it")
		}
		return nil, rep, err
	}
	return c, rep, nil
}

func alerts(rep *transparency.Report) []string {
	if rep == nil {
		return nil
	}
	var out []string
	for _, a := range rep.Alerts {
		out = append(out, a.Message)
	}
	return out
}

// saveChecked saves the chain this device just extended and checks the
// log at once, so that the entries it appended are confirmed in the log
// (or found pending) from now, not at the next command.
func (s *session) saveChecked(ctx context.Context, e *env, c *account.Chain) error {
	if err := c.Save(s.home); err != nil {
		return err
	}
	_, _, err := e.checkLog(ctx, s.home, s.loc, s.store, c)
	return err
}
