package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/coffer-backup/coffer/internal/account"
	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/home"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/pairing"
	"github.com/coffer-backup/coffer/internal/passphrase"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store"
	storeopen "github.com/coffer-backup/coffer/internal/store/open"
	"github.com/coffer-backup/coffer/internal/store/remote"
	"github.com/coffer-backup/coffer/internal/termsafe"
)

type deviceRow struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Fingerprint string    `json:"fingerprint"`
	Rights      string    `json:"rights"`
	Added       time.Time `json:"added"`
	AddedBy     string    `json:"added_by"`
	Entry       uint64    `json:"entry"`
	This        bool      `json:"this_device"`
}

func deviceRowOf(m devices.Member, me string) deviceRow {
	by := m.AddedBy
	if by == devices.Recovery {
		by = "recovery key"
	}
	return deviceRow{ID: m.Public.ID, Name: m.Public.Name, Fingerprint: m.Public.Fingerprint(), Rights: m.Rights.String(),
		Added: m.AddedTime, AddedBy: by, Entry: m.AddedAt, This: m.Public.ID == me}
}

func runDevice(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usageError{"device needs a subcommand: add, list or remove ID"}
	}
	switch sub, rest := args[0], args[1:]; {
	case sub == "list" && len(rest) == 0:
		return e.deviceList(ctx)
	case sub == "add" && len(rest) == 0:
		return e.deviceAdd(ctx)
	case sub == "remove" && len(rest) == 1:
		return e.deviceRemove(ctx, rest[0])
	}
	return usageError{"usage: coffer device add | device list | device remove ID"}
}

func (e *env) deviceList(ctx context.Context) error {
	s, err := e.openRepo(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	var rows []deviceRow
	for _, m := range s.chain.Devices() {
		rows = append(rows, deviceRowOf(m, s.dev.ID))
	}
	return e.emit(rows, func(w io.Writer) {
		for _, r := range rows {
			mark := " "
			if r.This {
				mark = "*"
			}
			fmt.Fprintf(w, "%s %s  %-20s  %s  %-11s  added %s by %s\n", mark, termsafe.Name(r.ID), termsafe.Name(r.Name), r.Fingerprint, r.Rights,
				r.Added.Local().Format("2006-01-02 15:04"), termsafe.Name(r.AddedBy))
		}
	})
}

// relay returns the session's store as a pairing relay: a server.
func (s *session) relay() (*remote.Store, error) {
	rs, ok := s.store.(*remote.Store)
	if !ok {
		return nil, withHint(errors.New("adding a device needs a Coffer server store"), "pairing is relayed by 'coffer serve'; a directory or S3 store has one device and its recovery key")
	}
	return rs, nil
}

func (e *env) deviceAdd(ctx context.Context) error {
	s, err := e.openRepo(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	rs, err := s.relay()
	if err != nil {
		return err
	}
	a := &account.Adder{Relay: rs, Chain: s.chain, Me: s.dev, Rights: rightsOf(e.o.appendOnly), Deadline: time.Now().Add(e.o.timeout)}
	code, err := a.Start(ctx)
	if err != nil {
		return err
	}
	err = e.emit(map[string]string{"code": code}, func(w io.Writer) {
		fmt.Fprintf(w, "pairing code: %s\n", code)
	})
	if err != nil {
		return err
	}
	e.say("on the new device run: coffer join --store '%s' --code %s", s.loc, code)
	e.say("waiting up to %s for it", e.o.timeout)
	pub, entry, err := a.Wait(ctx)
	if err != nil {
		return err
	}
	if err := s.repo.WrapTo(ctx, pub); err != nil {
		return err
	}
	c, err := s.chain.Append(ctx, rs, entry)
	if err == nil {
		err = s.saveChecked(ctx, e, c)
	}
	if err == nil {
		err = a.Done(ctx, entry)
	}
	if err != nil {
		return err
	}
	m, _ := c.Device(pub.ID)
	row := deviceRowOf(m, s.dev.ID)
	return e.emit(row, func(w io.Writer) {
		fmt.Fprintf(w, "added device %s %q, fingerprint %s\n", termsafe.Name(row.ID), row.Name, row.Fingerprint)
	})
}

func (e *env) deviceRemove(ctx context.Context, id string) error {
	s, err := e.openRepo(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	id = s.chain.Resolve(id)
	c, err := account.RemoveDevice(ctx, s.repo, s.chain, s.dev, id)
	if err == nil {
		err = s.saveChecked(ctx, e, c)
	}
	if err != nil {
		return err
	}
	res := map[string]any{"removed": id, "epoch": c.Epoch()}
	return e.emit(res, func(w io.Writer) {
		fmt.Fprintf(w, "removed device %s; new data is sealed under root-key epoch %d, which it cannot read\n", id, c.Epoch())
	})
}

type joinResult struct {
	Account     string `json:"account"`
	Store       string `json:"store"`
	Device      string `json:"device"`
	Name        string `json:"name"`
	Fingerprint string `json:"fingerprint"`
	Rights      string `json:"rights"` // as the chain entry that added this device says
}

func (e *env) emitJoined(res joinResult, verb string) error {
	return e.emit(res, func(w io.Writer) {
		fmt.Fprintf(w, "%s account %s in %s\n", verb, termsafe.Name(res.Account), termsafe.Name(res.Store))
		fmt.Fprintf(w, "this device: %s %q (fingerprint %s), %s rights\n", res.Device, res.Name, res.Fingerprint, res.Rights)
	})
}

// newcomer is a device joining an account: its home, its keys (created on
// first use) and the server location.
type newcomer struct {
	home *home.Home
	dev  *keys.Device
	loc  string
}

func (e *env) newcomer(cmd string) (*newcomer, error) {
	if e.o.store == "" {
		return nil, usageError{cmd + " needs --store URL"}
	}
	h, err := e.home()
	if err != nil {
		return nil, err
	}
	loc, err := storeopen.Canonical(e.o.store)
	if err != nil {
		return nil, err
	}
	dev, err := e.deviceNamed(h, e.o.name)
	if err != nil {
		return nil, err
	}
	return &newcomer{home: h, dev: dev, loc: loc}, nil
}

// deviceNamed unlocks this device's keys, creating them, with the given
// name or the host name, on first use.
func (e *env) deviceNamed(h *home.Home, name string) (*keys.Device, error) {
	if h.HasDevice() {
		return e.unlockDevice(h)
	}
	pass, err := passphrase.Get(e.o.passCommand, "New passphrase for this device's Coffer keys: ", true)
	if err != nil {
		return nil, err
	}
	defer clear(pass)
	if name == "" {
		name, _ = os.Hostname()
	}
	return h.CreateDevice(name, pass)
}

// finish saves the chain that now holds n's device, checks that the keys
// it commits to open, and remembers the store.
func (n *newcomer) finish(ctx context.Context, e *env, c *account.Chain) (joinResult, error) {
	if err := c.Member(n.dev); err != nil {
		return joinResult{}, err
	}
	st, err := e.openStore(n.home, n.loc, storeopen.Options{Account: c.Account(), Device: n.dev})
	if err != nil {
		return joinResult{}, err
	}
	defer st.Close()
	r, err := repo.OpenChain(ctx, st, n.dev, c.Chain)
	if err != nil {
		return joinResult{}, err
	}
	r.Close()
	if err := e.trustLog(ctx, n.home, n.loc, st, c); err != nil {
		return joinResult{}, err
	}
	if err := c.Save(n.home); err != nil {
		return joinResult{}, err
	}
	if err := e.remember(n.home, n.loc, c.Account()); err != nil {
		return joinResult{}, err
	}
	pub := n.dev.Public()
	m, _ := c.Device(n.dev.ID)
	return joinResult{Account: c.Account(), Store: n.loc, Device: n.dev.ID, Name: pub.Name, Fingerprint: pub.Fingerprint(), Rights: m.Rights.String()}, nil
}

func runJoin(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 {
		return usageError{"join takes no arguments; give --store URL --code CODE"}
	}
	text := e.o.code
	if text == "" {
		b, err := passphrase.Secret("COFFER_PAIRING_CODE", "COFFER_PAIRING_CODE_FILE", "pairing code", "Pairing code: ")
		if err != nil {
			return err
		}
		text = string(b)
	}
	code, err := pairing.ParseCode(text)
	if err != nil {
		return err
	}
	defer code.Zero()
	n, err := e.newcomer("join")
	if err != nil {
		return err
	}
	defer n.dev.Zero()
	relay, err := remote.OpenAnonymous(n.loc, remote.Timeouts{})
	if err != nil {
		return err
	}
	defer relay.Close()
	e.say("this device's fingerprint is %s; check that the adding device shows the same", n.dev.Public().Fingerprint())
	joined, err := account.Join(ctx, relay, code, n.dev, time.Now().Add(e.o.timeout))
	if err != nil {
		return e.pairingHint(err)
	}
	st, err := e.openStore(n.home, n.loc, storeopen.Options{Account: joined.Account, Device: n.dev})
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := account.FirstUse(ctx, st.(*remote.Store), joined.Account)
	if err == nil {
		err = joined.Check(c)
	}
	if err != nil {
		return err
	}
	res, err := n.finish(ctx, e, c)
	if err != nil {
		return err
	}
	return e.emitJoined(res, "joined")
}

func (e *env) pairingHint(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return withHint(fmt.Errorf("no such pairing: the code is wrong or has expired: %w", err), "run 'coffer device add' again on a device of the account and use its new code")
	}
	return err
}

// rightsOf returns the rights 'device add' gives: append-only with
// --append-only, else full.
func rightsOf(appendOnly bool) devices.Rights {
	if appendOnly {
		return devices.AppendOnly
	}
	return devices.Full
}
