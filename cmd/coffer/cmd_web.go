package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/coffer-backup/coffer/internal/account"
	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/home"
	"github.com/coffer-backup/coffer/internal/passphrase"
	"github.com/coffer-backup/coffer/internal/store/remote"
	"github.com/coffer-backup/coffer/internal/termsafe"
	"github.com/coffer-backup/coffer/internal/websession"
)

// sessionRow is a browser session as `coffer web sessions` and
// `coffer web approve --json` print it (docs/cli.md).
type sessionRow struct {
	ID         string    `json:"id"`
	State      string    `json:"state"` // active, expired, revoked or pending (not yet begun)
	NotBefore  time.Time `json:"not_before"`
	NotAfter   time.Time `json:"not_after"`
	ApprovedBy string    `json:"approved_by"`
	Entry      uint64    `json:"entry"`
	RevokedAt  *uint64   `json:"revoked_at,omitempty"` // the chain entry that ended it
	Epoch      uint64    `json:"epoch"`                // data keys of epochs 0 to it were granted
}

func sessionRowOf(s devices.Session, now time.Time) sessionRow {
	r := sessionRow{ID: s.ID, NotBefore: s.NotBefore, NotAfter: s.NotAfter, ApprovedBy: s.Approver, Entry: s.Seq, Epoch: s.Epoch}
	switch {
	case s.Revoked != 0:
		r.State, r.RevokedAt = "revoked", &s.Revoked
	case s.Active(now):
		r.State = "active"
	case now.Before(s.NotBefore):
		r.State = "pending"
	default:
		r.State = "expired"
	}
	return r
}

func (r sessionRow) print(w io.Writer) {
	fmt.Fprintf(w, "%s  %-7s  %s to %s  approved by %s at entry %d\n", r.ID, r.State,
		r.NotBefore.Local().Format("2006-01-02 15:04:05"), r.NotAfter.Local().Format("2006-01-02 15:04:05"), termsafe.Name(r.ApprovedBy), r.Entry)
}

func webFlags(fs *flag.FlagSet, o *opts) {
	webListenFlags(fs, o) // --store and --listen
	timeoutFlag(fs, o)
	fs.BoolVar(&o.yes, "yes", false, "with approve: do not ask to confirm the comparison code (for scripts that compare it themselves)")
	fs.DurationVar(&o.duration, "duration", devices.DefaultSessionLength, "with approve: how long the browser session lasts, at most 24h")
}

func runWeb(ctx context.Context, e *env, args []string) error {
	if e.o.listen != "" && len(args) == 0 {
		return e.webListen(ctx) // local mode (cmd_weblocal.go)
	}
	if len(args) == 0 {
		return usageError{"web needs a subcommand: enable, disable, approve CODE, revoke SESSION or sessions; or --listen 127.0.0.1:PORT"}
	}
	switch sub, rest := args[0], args[1:]; {
	case (sub == "enable" || sub == "disable") && len(rest) == 0:
		return e.webAccess(ctx, sub == "enable")
	case sub == "approve" && len(rest) <= 1:
		return e.webApprove(ctx, rest)
	case sub == "revoke" && len(rest) == 1:
		return e.webRevoke(ctx, rest[0])
	case sub == "sessions" && len(rest) == 0:
		return e.webSessions(ctx)
	}
	return usageError{"usage: coffer web enable | disable | approve CODE [--yes] [--duration D] | revoke SESSION | sessions | --listen 127.0.0.1:PORT"}
}

func (e *env) webAccess(ctx context.Context, on bool) error {
	s, rs, err := e.openRelay(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	c, err := account.SetWebAccess(ctx, rs, s.chain, s.dev, on)
	if err == nil && c != s.chain {
		err = s.saveChecked(ctx, e, c)
	}
	if err != nil {
		return err
	}
	_, seq := c.WebEnabled()
	res := map[string]any{"web_access": on, "entry": seq}
	return e.emit(res, func(w io.Writer) {
		if on {
			fmt.Fprintf(w, "web access is on (chain entry %d); approve a browser with 'coffer web approve CODE'\n", seq)
		} else {
			fmt.Fprintf(w, "web access is off (chain entry %d); every browser session has ended\n", seq)
		}
	})
}

// openRelay opens the repository and returns its store as the server that
// relays and enforces browser sessions (webRelay).
func (e *env) openRelay(ctx context.Context) (*session, *remote.Store, error) {
	s, err := e.openRepo(ctx)
	if err != nil {
		return nil, nil, err
	}
	rs, err := webRelay(s)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, rs, nil
}

// webRelay returns the session's store as the server that relays and
// enforces browser sessions.
func webRelay(s *session) (*remote.Store, error) {
	rs, ok := s.store.(*remote.Store)
	if !ok {
		return nil, withHint(errors.New("web access needs a Coffer server store"), "browser sessions are relayed and enforced by 'coffer serve --web'; a directory or S3 store cannot serve one")
	}
	return rs, nil
}

// webCode returns the session code: the argument, else
// $COFFER_WEB_CODE (or its _FILE), else a prompt.
func webCode(args []string) (string, error) {
	if len(args) == 1 {
		return args[0], nil
	}
	b, err := passphrase.Secret("COFFER_WEB_CODE", "COFFER_WEB_CODE_FILE", "web session code", "Code shown in the browser: ")
	return string(b), err
}

func (e *env) webApprove(ctx context.Context, args []string) error {
	code, err := webCode(args)
	if err != nil {
		return err
	}
	if _, err := websession.ParseCode(code); err != nil {
		return err // a typo, caught before the device is unlocked
	}
	s, rs, err := e.openRelay(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	a := &account.Approver{Relay: rs, Store: rs, Chain: s.chain, Repo: s.repo, Me: s.dev, Length: e.o.duration,
		Deadline: time.Now().Add(e.o.timeout), Confirm: e.confirmSession}
	e.say("waiting up to %s for the browser", e.o.timeout)
	c, sess, err := a.Approve(ctx, code)
	if errors.Is(err, account.ErrWebOff) {
		err = withHint(err, "turn it on with 'coffer web enable' (logged in the device chain)")
	}
	if c != nil {
		err = errors.Join(err, s.saveChecked(ctx, e, c))
	}
	if err != nil {
		return err
	}
	row := sessionRowOf(sess, time.Now())
	return e.emit(row, func(w io.Writer) {
		fmt.Fprintf(w, "approved browser session %s until %s\n", row.ID, row.NotAfter.Local().Format("2006-01-02 15:04:05"))
		fmt.Fprintf(w, "end it sooner with: coffer web revoke %s\n", row.ID[:8])
	})
}

// confirmSession shows the comparison code on stderr and, unless --yes,
// asks the user to confirm that the browser shows the same.
func (e *env) confirmSession(a account.WebApproval) error {
	e.say("comparison code: %s", a.Compare)
	e.say("browser session %s, read-only, until %s", a.Session.ID, a.Session.NotAfter.Local().Format("2006-01-02 15:04:05"))
	if e.o.yes {
		return nil
	}
	fmt.Fprint(e.stderr, "coffer: does the browser show the same comparison code? Type yes to approve: ")
	line, err := bufio.NewReader(io.LimitReader(e.stdin, 64)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if a := strings.ToLower(strings.TrimSpace(line)); a != "yes" && a != "y" {
		return withHint(account.ErrNotConfirmed, "if the codes differ, someone else may have used the code: start again in the browser")
	}
	return nil
}

func (e *env) webRevoke(ctx context.Context, prefix string) error {
	s, rs, err := e.openRelay(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	c, sess, err := account.RevokeSession(ctx, rs, s.chain, s.dev, prefix)
	if err == nil {
		err = s.saveChecked(ctx, e, c)
	}
	if err != nil {
		return err
	}
	sess, _ = c.Session(sess.ID)
	row := sessionRowOf(sess, time.Now())
	return e.emit(row, func(w io.Writer) {
		fmt.Fprintf(w, "revoked browser session %s at chain entry %d\n", row.ID, sess.Revoked)
	})
}

func (e *env) webSessions(ctx context.Context) error {
	s, err := e.openRepo(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	now := time.Now()
	rows := []sessionRow{}
	for _, x := range s.chain.Sessions() {
		rows = append(rows, sessionRowOf(x, now))
	}
	on, _ := s.chain.WebEnabled()
	res := struct {
		WebAccess bool         `json:"web_access"`
		Sessions  []sessionRow `json:"sessions"`
	}{on, rows}
	return e.emit(res, func(w io.Writer) {
		fmt.Fprintf(w, "web access: %s\n", map[bool]string{true: "on", false: "off"}[on])
		for _, r := range rows {
			r.print(w)
		}
	})
}

// savedLen is the length of the chain this device saved for account, or
// -1 if it has none (its first use: nothing is new to it then).
func savedLen(h *home.Home, account string) int {
	if account == "" {
		return -1
	}
	entries, err := h.Chain(account)
	if err != nil || entries == nil {
		return -1
	}
	return len(entries)
}

// reportSessions tells the user of every browser session approved in the
// entries from seen on, as newly seen chain entries are reported: a
// session this user did not approve is a sign of a device in other hands.
func (e *env) reportSessions(c *account.Chain, seen int) {
	if seen < 0 {
		return
	}
	for _, s := range c.Sessions() {
		if s.Seq >= uint64(seen) {
			e.say("notice: device %s approved browser session %s (chain entry %d), read-only until %s; end it with 'coffer web revoke %s'",
				termsafe.Name(s.Approver), s.ID, s.Seq, s.NotAfter.Local().Format("2006-01-02 15:04:05"), s.ID[:8])
		}
	}
}
