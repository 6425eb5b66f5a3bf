//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/account"
	"github.com/coffer-backup/coffer/internal/home"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store/local"
)

// TestRootKeySubstitution plays a store that replaces the account's config
// and this device's wrapped key with ones of a root key the store chose:
// for the same account ID, and for another. A device that has used the
// store before refuses both, so the store never gets backups it can read.
func TestRootKeySubstitution(t *testing.T) {
	for _, tc := range []struct {
		name        string
		sameAccount bool
		want        string
	}{
		{"same account, other root key", true, "does not record"},
		{"other account", false, "the configuration is for account"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			homeDir, pass := filepath.Join(dir, "home"), "substitution"
			t.Setenv("COFFER_HOME", homeDir)
			t.Setenv("COFFER_PASSPHRASE", pass)
			if err := makeFastHome(homeDir, pass); err != nil {
				t.Fatal(err)
			}
			victim := filepath.Join(dir, "store")
			var out bytes.Buffer
			if code := run([]string{"init", "--store", victim, "--json"}, nil, &out, os.Stderr); code != 0 {
				t.Fatalf("init exited %d", code)
			}
			var created struct{ Account string }
			if err := json.Unmarshal(out.Bytes(), &created); err != nil {
				t.Fatal(err)
			}
			dev, err := keys.Load(filepath.Join(homeDir, "device.key"), []byte(pass))
			if err != nil {
				t.Fatal(err)
			}
			acct := created.Account
			if !tc.sameAccount {
				if acct, err = repo.NewAccountID(); err != nil {
					t.Fatal(err)
				}
			}
			forged := filepath.Join(dir, "forged")
			st, err := local.Create(forged)
			if err != nil {
				t.Fatal(err)
			}
			nk, err := repo.NewAccount(acct, dev)
			if err != nil {
				t.Fatal(err)
			}
			forgedRepo, _, err := repo.CreateAccount(context.Background(), st, dev, nk)
			if err != nil {
				t.Fatal(err)
			}
			forgedCommit, _ := forgedRepo.Chain().Commitment(0)
			h := &home.Home{Dir: homeDir}
			real, err := account.Verified(h, created.Account)
			if err != nil || real == nil {
				t.Fatalf("saved chain: %v", err)
			}
			realCommit, _ := real.Commitment(0)
			// The store serves its own config and, under the name this
			// device reads, a root key of its choosing wrapped to it.
			for from, to := range map[string]string{
				"config/config": "config/config",
				"keys/" + keys.DeviceObjectName(forgedCommit, dev.ID): "keys/" + keys.DeviceObjectName(realCommit, dev.ID),
			} {
				b, err := os.ReadFile(filepath.Join(forged, from))
				if err != nil {
					t.Fatal(err)
				}
				target := filepath.Join(victim, to)
				if err := os.Chmod(target, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(target, b, 0o444); err != nil {
					t.Fatal(err)
				}
			}
			var stderr bytes.Buffer
			if code := run([]string{"snapshots", "--store", victim}, nil, &out, &stderr); code != exitError {
				t.Fatalf("snapshots on a substituted store exited %d, want %d; stderr: %s", code, exitError, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr %q does not say %q", stderr.String(), tc.want)
			}
		})
	}
}
