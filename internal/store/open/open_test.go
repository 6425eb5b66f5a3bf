package open

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/store/local"
	"github.com/coffer-backup/coffer/internal/store/remote"
)

func TestCanonical(t *testing.T) {
	dir := t.TempDir()
	pin := strings.Repeat("0f", 32)
	tests := []struct {
		loc, want string
		remote    bool
	}{
		{dir, dir, false},
		{"file://" + dir, dir, false},
		{dir + "/sub/..", dir, false},
		{"https://Backup.Example:8443/#sha256=" + strings.ToUpper(pin), "https://backup.example:8443#sha256=" + pin, true},
		{"HTTP://127.0.0.1:9", "http://127.0.0.1:9", true},
		{"http://example.com", "", true}, // not loopback
		{"s3://bucket", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		got, err := Canonical(tc.loc)
		if (tc.want == "") != (err != nil) || got != tc.want || IsRemote(tc.loc) != tc.remote {
			t.Errorf("%q: got %q, %v, remote %v", tc.loc, got, err, IsRemote(tc.loc))
		}
	}
}

// TestOpen checks that a path opens a local store, a URL a remote one, and
// that a server store needs an account.
func TestOpen(t *testing.T) {
	dev, err := keys.NewDevice("open test")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "store")
	st, err := Create(context.Background(), "file://"+dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	for _, loc := range []string{dir, "file://" + dir} {
		st, err := Open(loc, Options{})
		if _, ok := st.(*local.Store); err != nil || !ok {
			t.Errorf("%s: got %T, %v", loc, st, err)
		}
	}
	const url = "http://127.0.0.1:1"
	if _, err := Open(url, Options{Device: dev}); !errors.Is(err, ErrNoAccount) {
		t.Errorf("a server store without an account: %v", err)
	}
	st, err = Open(url, Options{Account: strings.Repeat("ab", 16), Device: dev})
	if _, ok := st.(*remote.Store); err != nil || !ok {
		t.Errorf("%s: got %T, %v", url, st, err)
	}
}
