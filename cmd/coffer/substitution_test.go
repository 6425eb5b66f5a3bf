package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
		{"same account, other root key", true, "different root key"},
		{"other account", false, "presents account"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			home, pass := filepath.Join(dir, "home"), "substitution"
			t.Setenv("COFFER_HOME", home)
			t.Setenv("COFFER_PASSPHRASE", pass)
			if err := makeFastHome(home, pass); err != nil {
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
			dev, err := keys.Load(filepath.Join(home, "device.key"), []byte(pass))
			if err != nil {
				t.Fatal(err)
			}
			account := created.Account
			if !tc.sameAccount {
				if account, err = repo.NewAccountID(); err != nil {
					t.Fatal(err)
				}
			}
			forged := filepath.Join(dir, "forged")
			st, err := local.Create(forged)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := repo.CreateAccount(context.Background(), st, dev, account); err != nil {
				t.Fatal(err)
			}
			for _, obj := range []string{"config/config", "keys/" + keys.DeviceObjectName(dev.ID)} {
				b, err := os.ReadFile(filepath.Join(forged, obj))
				if err != nil {
					t.Fatal(err)
				}
				target := filepath.Join(victim, obj)
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
