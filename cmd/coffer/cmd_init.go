package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/coffer-backup/coffer/internal/account"
	"github.com/coffer-backup/coffer/internal/home"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store"
	storeopen "github.com/coffer-backup/coffer/internal/store/open"
	"github.com/coffer-backup/coffer/internal/store/remote"
)

type initResult struct {
	Account     string `json:"account"`
	RecoveryKey string `json:"recovery_key"`
	Store       string `json:"store"`
	Device      string `json:"device"`
	Fingerprint string `json:"fingerprint"`
}

func runInit(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 {
		return usageError{"init takes no arguments; give the store with --store DIR"}
	}
	if e.o.store == "" {
		return usageError{"init needs --store DIR"}
	}
	h, err := e.home()
	if err != nil {
		return err
	}
	loc, err := storeopen.Canonical(e.o.store)
	if err != nil {
		return err
	}
	dev, err := e.deviceNamed(h, "")
	if err != nil {
		return err
	}
	defer dev.Zero()
	acct, err := repo.NewAccountID()
	if err != nil {
		return err
	}
	nk, err := repo.NewAccount(acct, dev)
	if err != nil {
		return err
	}
	defer nk.Zero()
	endpoint, err := e.s3Endpoint(h, loc)
	if err != nil {
		return err
	}
	opts := storeopen.Options{Account: acct, Device: dev, Genesis: nk.Genesis, RegistrationToken: os.Getenv("COFFER_REGISTRATION_TOKEN"), S3Endpoint: endpoint}
	st, err := storeopen.Create(ctx, loc, opts)
	if err != nil {
		return err
	}
	defer st.Close()
	r, created, err := repo.CreateAccount(ctx, st, dev, nk)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := (&account.Chain{Chain: r.Chain(), Entries: [][]byte{nk.Genesis}}).Save(h); err != nil {
		return err
	}
	if err := e.remember(h, loc, acct); err != nil {
		return err
	}
	if err := e.trustLog(ctx, h, loc, st, &account.Chain{Chain: r.Chain(), Entries: [][]byte{nk.Genesis}}); err != nil {
		return err
	}
	res := initResult{Account: created.Account, RecoveryKey: created.RecoveryKey.String(), Store: loc,
		Device: dev.ID, Fingerprint: dev.Public().Fingerprint()}
	return e.emit(res, func(w io.Writer) {
		fmt.Fprintf(w, "created account %s in %s\n", res.Account, res.Store)
		fmt.Fprintf(w, "this device: %s (fingerprint %s)\n\n", res.Device, res.Fingerprint)
		fmt.Fprintf(w, "recovery key: %s\n\n", res.RecoveryKey)
		fmt.Fprintln(w, "Write the recovery key down and keep it offline. It is shown only this once;")
		fmt.Fprintln(w, "without it or this device, nobody (not even the store's operator) can open your backups.")
	})
}

// remember makes loc this device's default store, used with account, on
// the S3 service --s3-endpoint names if it is an S3 store.
func (e *env) remember(h *home.Home, loc, acct string) error {
	endpoint, err := e.s3Endpoint(h, loc)
	if err != nil {
		return err
	}
	settings, err := h.Settings()
	if err != nil {
		return err
	}
	settings.Remember(loc, acct)
	settings.RememberEndpoint(loc, endpoint)
	return h.SaveSettings(settings)
}

// trustLog registers --account-name if given, records the server's log
// policy and checks the log a first time, so that later checks extend
// what this device saw now.
func (e *env) trustLog(ctx context.Context, h *home.Home, loc string, st store.Store, c *account.Chain) error {
	rs, ok := st.(*remote.Store)
	if !ok {
		if e.o.accountName != "" {
			return usageError{"--account-name needs a server store"}
		}
		return nil
	}
	var names []string
	if e.o.accountName != "" {
		if err := rs.RegisterName(ctx, e.o.accountName); err != nil {
			return fmt.Errorf("registering the account name %q: %w", e.o.accountName, err)
		}
		names = append(names, e.o.accountName)
	}
	if err := e.pinLog(ctx, h, loc, st, names...); err != nil {
		return err
	}
	_, rep, err := e.checkLog(ctx, h, loc, st, c)
	if err == nil && len(names) > 0 && (rep == nil || !rep.NameLogged) {
		err = fmt.Errorf("the server registered the name %q but its transparency log does not show it", names[0])
	}
	return err
}
