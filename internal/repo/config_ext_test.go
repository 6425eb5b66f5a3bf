package repo_test

import (
	"bytes"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/local"
)

// TestConfigVector reads testdata/config-v1.json, the configuration of
// docs/format.md §9 for account 0123456789abcdef0123456789abcdef and the
// root key 0x00..0x1f: it must be canonical, and its mac (standard base64,
// with padding) must be the HMAC under that root key's configuration key of
// the same bytes with "mac":null. Forms a writer never produces are
// refused.
func TestConfigVector(t *testing.T) {
	b, err := os.ReadFile("testdata/config-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := readConfig(t, b)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Account != "0123456789abcdef0123456789abcdef" {
		t.Fatalf("account %q", cfg.Account)
	}
	var root crypt.Key
	for i := range root {
		root[i] = byte(i)
	}
	k, err := crypt.DeriveKeys(&root)
	if err != nil {
		t.Fatal(err)
	}
	unmaced := cfg
	unmaced.MAC = nil
	msg, err := json.Marshal(unmaced)
	if err != nil {
		t.Fatal(err)
	}
	if want := bytes.Replace(b, []byte(`"mac":"+q+b7pf/vnhen5cr7HpO76MPvVGR0Wqsv6kjTlcC/3Q="`), []byte(`"mac":null`), 1); !bytes.Equal(msg, want) {
		t.Fatalf("MAC input\n%s\nwant\n%s", msg, want)
	}
	if !hmac.Equal(k.ConfigMAC(msg), cfg.MAC) {
		t.Fatal("the vector's mac is not the configuration MAC under root key 00..1f")
	}
	for _, bad := range []string{
		`{"version":1,"account":"0123456789abcdef0123456789abcdef","created":"2025-01-02T03:04:05+00:00","mac":"+q+b7pf/vnhen5cr7HpO76MPvVGR0Wqsv6kjTlcC/3Q="}`,
		`{"version":1,"account":"0123456789abcdef0123456789abcdef","created":"2025-01-02T03:04:05.000Z","mac":"+q+b7pf/vnhen5cr7HpO76MPvVGR0Wqsv6kjTlcC/3Q="}`,
		`{"version":1,"account":"0123456789abcdef0123456789abcdef","created":"2025-01-02T03:04:05Z","mac":"-q-b7pf_vnhen5cr7HpO76MPvVGR0Wqsv6kjTlcC_3Q="}`,
		`{"version":1,"account":"0123456789abcdef0123456789abcdef","created":"2025-01-02T03:04:05Z","mac":"+q+b7pf/vnhen5cr7HpO76MPvVGR0Wqsv6kjTlcC/3Q"}`,
		`{"version":1, "account":"0123456789abcdef0123456789abcdef","created":"2025-01-02T03:04:05Z","mac":"+q+b7pf/vnhen5cr7HpO76MPvVGR0Wqsv6kjTlcC/3Q="}`,
		`{"account":"0123456789abcdef0123456789abcdef","version":1,"created":"2025-01-02T03:04:05Z","mac":"+q+b7pf/vnhen5cr7HpO76MPvVGR0Wqsv6kjTlcC/3Q="}`,
		`{"version":1,"account":"0123456789ABCDEF0123456789ABCDEF","created":"2025-01-02T03:04:05Z","mac":"+q+b7pf/vnhen5cr7HpO76MPvVGR0Wqsv6kjTlcC/3Q="}`,
		string(b) + "\n",
	} {
		if _, err := readConfig(t, []byte(bad)); !errors.Is(err, repo.ErrNotRepo) {
			t.Errorf("%s: %v, want ErrNotRepo", bad, err)
		}
	}
}

// readConfig stores b as the configuration of a new local store and reads
// it back with repo.ReadConfig.
func readConfig(t *testing.T, b []byte) (repo.Config, error) {
	t.Helper()
	st, err := local.Create(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, store.Config, "config", bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatal(err)
	}
	return repo.ReadConfig(ctx, st)
}
