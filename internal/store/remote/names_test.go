package remote

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/tlog"
)

// TestNames registers and looks up account names, including a retry whose
// first try the server carried out.
func TestNames(t *testing.T) {
	ctx := context.Background()
	ts := newTestServer(t, nil)
	a, b := ts.newOwner(t), ts.newOwner(t)
	if err := a.RegisterName(ctx, "alice@example.org"); err != nil {
		t.Fatal(err)
	}
	account, index, err := b.LookupName(ctx, "alice@example.org")
	if err != nil || account != a.opts.Account || index != 2 {
		t.Errorf("lookup: %s at %d, %v; want %s at 2", account, index, err, a.opts.Account)
	}
	if err := b.RegisterName(ctx, "alice@example.org"); !errors.Is(err, store.ErrExists) {
		t.Errorf("a taken name: %v", err)
	}
	if _, _, err := b.LookupName(ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an unknown name: %v", err)
	}
	ts.faults.set(fault{match: "POST /v1/names", n: 1, status: http.StatusBadGateway, swallow: true})
	if err := b.RegisterName(ctx, "bob"); err != nil {
		t.Errorf("a retried registration the server carried out: %v", err)
	}
	if account, _, err := a.LookupName(ctx, "bob"); err != nil || account != b.opts.Account {
		t.Errorf("bob: %s, %v", account, err)
	}
	for _, bad := range []string{"", "Alice", ".a", "a/b", strings.Repeat("a", 65)} {
		if err := a.RegisterName(ctx, bad); err == nil {
			t.Errorf("registered %q", bad)
		}
		if _, _, err := a.LookupName(ctx, bad); err == nil {
			t.Errorf("looked up %q", bad)
		}
	}
}

// TestLogAccess reads the server's log checkpoint through BaseURL and
// HTTPClient, also of a store without credentials.
func TestLogAccess(t *testing.T) {
	ts := newTestServer(t, nil)
	o := ts.newOwner(t)
	anon, err := OpenAnonymous(ts.URL+"/", Timeouts{})
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	for _, s := range []*Store{o.Store, anon} {
		if s.BaseURL() != ts.URL {
			t.Errorf("BaseURL %q, want %q", s.BaseURL(), ts.URL)
		}
		resp, err := s.HTTPClient().Get(s.BaseURL() + "/log/checkpoint")
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("checkpoint: %d, %v", resp.StatusCode, err)
		}
		if c, err := tlog.ParseUnverified(b); err != nil || c.Size != 1 {
			t.Errorf("checkpoint of %d leaves, %v; want 1", c.Size, err)
		}
	}
}
