package main

import (
	"context"
	"fmt"
	"io"

	"github.com/coffer-backup/coffer/internal/passphrase"
)

// runPassphrase handles 'passphrase change': the device's keystore sealed
// again under a new passphrase ($COFFER_NEW_PASSPHRASE, its _FILE, or typed
// twice); the keys themselves do not change.
func runPassphrase(_ context.Context, e *env, args []string) error {
	if len(args) != 1 || args[0] != "change" {
		return usageError{"usage: coffer passphrase change"}
	}
	h, err := e.home()
	if err != nil {
		return err
	}
	dev, err := e.unlockDevice(h)
	if err != nil {
		return err
	}
	defer dev.Zero()
	pass, err := passphrase.GetNew("New passphrase for this device's Coffer keys: ")
	if err != nil {
		return err
	}
	defer clear(pass)
	if err := h.ReplacePassphrase(dev, pass); err != nil {
		return err
	}
	return e.emit(map[string]any{"changed": true, "keystore": h.KeystorePath()}, func(w io.Writer) {
		fmt.Fprintf(w, "passphrase changed; %s now opens only with the new one\n", h.KeystorePath())
	})
}
