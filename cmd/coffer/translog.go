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
// first use, like an SSH host key), and the witnesses the user named.
func (e *env) pinLog(ctx context.Context, h *home.Home, loc string, st store.Store, names ...string) error {
	rs, ok := st.(*remote.Store)
	if !ok {
		return nil
	}
	if e.o.witnessThreshold > len(e.o.witnesses) {
		return usageError{fmt.Sprintf("--witness-threshold %d needs at least %d --witness keys", e.o.witnessThreshold, e.o.witnessThreshold)}
	}
	key := e.o.logKey
	if key == "" {
		f, err := transparency.NewFetcher(rs.HTTPClient(), rs.BaseURL())
		if err != nil {
			return err
		}
		if key, err = f.VerifierKey(ctx); err != nil {
			return fmt.Errorf("reading the server's log key: %w", err)
		}
	}
	threshold := e.o.witnessThreshold
	if threshold == 0 {
		threshold = len(e.o.witnesses)
	}
	s, err := h.Settings()
	if err != nil {
		return err
	}
	if s.Logs == nil {
		s.Logs = map[string]home.LogPolicy{}
	}
	s.Logs[loc] = home.LogPolicy{Key: key, Witnesses: e.o.witnesses, Threshold: threshold, Names: names}
	return h.SaveSettings(s)
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
			fmt.Fprintf(e.stderr, "coffer: alert: %s\n", a)
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
