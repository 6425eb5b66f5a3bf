package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/hostile"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store"
)

// TestAppendOnlyDeviceLies is issue 11 through a real server. A full
// device backs up; an append-only device, run by malware with the keys it
// was given, uploads (as a library client, not through the coffer binary)
// a pack whose validly sealed header lists every blob the account holds
// with random bytes in their place, and an index object naming it. The
// full device still lists and restores everything; check reports every
// false copy; the append-only device's own repair writes a clean index but
// may delete nothing; the full device's prune keeps the genuine pack and
// its repair finishes the job, after which check --read-data is clean.
func TestAppendOnlyDeviceLies(t *testing.T) {
	srv := startServer(t, t.TempDir(), "127.0.0.1:0", "--insecure-http")
	a, b := newUser(t, "laptop"), newUser(t, "nas")
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, 11, 200<<10, 50<<10, 10)
	var ia initFull
	a.runJSON(t, &ia, "init", "--store", srv.URL)
	a.run(t, "backup", src)
	pair(t, a, b, srv.URL, "--append-only")
	genuine := packNames(t, a, srv.URL, ia.Account)

	listed, liar := lie(t, b, srv.URL, ia.Account)

	if out := a.run(t, "ls", "latest"); strings.Count(out, "\n") < 6 {
		t.Errorf("ls after the attack:\n%s", out)
	}
	restoreSame(t, a, src)
	var rep struct {
		BadCopies []struct{ Pack string } `json:"bad_copies"`
	}
	out, err := a.try(nil, "check", "--read-data", "--json")
	if err == nil || json.Unmarshal([]byte(out), &rep) != nil || len(rep.BadCopies) != listed {
		t.Fatalf("check --read-data after the attack: %v; %d bad copies of %d: %s", err, len(rep.BadCopies), listed, out)
	}

	// The append-only device cannot delete: repair says so and succeeds.
	cmd := b.command(context.Background(), nil, "repair")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil || !strings.Contains(stderr.String(), "refused to delete") {
		t.Errorf("repair on the append-only device: %v: %s", err, stderr.String())
	}
	restoreSame(t, a, src)

	a.run(t, "prune")
	after := packNames(t, a, srv.URL, ia.Account)
	for p := range genuine {
		if !after[p] {
			t.Errorf("prune deleted genuine pack %s", p[:8])
		}
	}
	restoreSame(t, a, src)
	a.run(t, "repair")
	a.run(t, "check", "--read-data")
	restoreSame(t, a, src)
	if packNames(t, a, srv.URL, ia.Account)[liar] {
		t.Error("the lying pack is still in the store")
	}
}

// lie uploads, as the append-only device u through its own library
// client, a lying pack and its index object; it returns how many false
// copies the pack holds, and its name.
func lie(t *testing.T, u *user, url, account string) (int, string) {
	t.Helper()
	st, dev := u.remoteStore(t, url, account)
	r, err := repo.Open(context.Background(), st, dev)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	listed, err := hostile.Listed(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	p, err := hostile.Pack(context.Background(), r, listed, hostile.RandomBytes)
	if err != nil {
		t.Fatalf("the append-only device could not upload its lie: %v", err)
	}
	return len(listed), p.ID.String()
}

// packNames returns the names of the account's packs, listed through a
// library client with u's credentials.
func packNames(t *testing.T, u *user, url, account string) map[string]bool {
	t.Helper()
	st, _ := u.remoteStore(t, url, account)
	names := make(map[string]bool)
	err := st.List(context.Background(), store.Packs, func(oi store.ObjectInfo) error {
		names[oi.Name] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// restoreSame restores the latest snapshot as u and compares it with src.
func restoreSame(t *testing.T, u *user, src string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	u.run(t, "restore", "latest", "--target", out)
	sameTree(t, filepath.Join(out, "src"), src)
}
