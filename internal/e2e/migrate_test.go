package e2e

import (
	"bytes"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/server/meta/pgtest"
	"github.com/coffer-backup/coffer/internal/store/s3/s3test"
	"github.com/coffer-backup/coffer/internal/tlog"
)

// TestMigrate moves an embedded server with two accounts (chains, names,
// snapshots, a paired device) to PostgreSQL and versitygw with coffer
// serve migrate, first while it runs (objects only), then stopped, then
// again (nothing changes), and serves the copy with coffer serve --db
// --objects on the same address: the checkpoint and tiles are
// byte-identical, the old clients verify and restore as before, and
// their next backups extend the same log.
func TestMigrate(t *testing.T) {
	old := startServer(t, t.TempDir(), "127.0.0.1:0", "--insecure-http")
	alice, alice2, bob := newUser(t, "alice"), newUser(t, "alice2"), newUser(t, "bob")
	srcA, srcB := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	writeTree(t, srcA, 1, 2<<20, 10<<10, 1)
	writeTree(t, srcB, 2, 1<<20, 3)
	alice.run(t, "init", "--store", old.URL, "--account-name", "alice@example.org")
	bob.run(t, "init", "--store", old.URL, "--account-name", "bob@example.org")
	alice.run(t, "backup", srcA)
	bob.run(t, "backup", srcB)
	pair(t, alice, alice2, old.URL)
	alice2.run(t, "backup", srcA)
	before := logFiles(t, old.URL)

	s3srv := s3test.Start(t)
	args := []string{"serve", "migrate", "--data", old.data, "--db", pgtest.URL(t),
		"--objects", "s3://" + s3srv.Bucket(t) + "/coffer", "--s3-endpoint", s3srv.Endpoint,
		"--log-key", filepath.Join(t.TempDir(), "log.key"), "--read-data"}
	if out, err := exec.Command(coffer, args...).CombinedOutput(); err == nil || !strings.Contains(string(out), "stop the old server") {
		t.Fatalf("migrate with the server running: %v: %s", err, out)
	}
	old.kill()
	migrateOut(t, args, "imported true")
	migrateOut(t, args, "copied 0 (0 bytes), deleted 0", "read data:")

	srv := startServer(t, t.TempDir(), old.listen, "--insecure-http", "--db", args[5], "--objects", args[7],
		"--s3-endpoint", args[9], "--log-key", args[11])
	if after := logFiles(t, srv.URL); !equalFiles(before, after) {
		t.Errorf("the new server's checkpoint or tiles differ from the old server's")
	}
	for _, u := range []*user{alice, alice2, bob} {
		u.run(t, "verify")
	}
	restored := t.TempDir()
	bob.run(t, "restore", "latest", "--target", restored)
	sameTree(t, filepath.Join(restored, "b"), srcB)
	alice.run(t, "restore", "latest", "--target", restored)
	sameTree(t, filepath.Join(restored, "a"), srcA)
	alice.run(t, "backup", srcA)
	alice2.run(t, "verify")
	alice.run(t, "check", "--read-data")
}

// migrateOut runs coffer serve migrate and checks that its output holds
// every want.
func migrateOut(t *testing.T, args []string, want ...string) {
	t.Helper()
	out, err := exec.Command(coffer, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("migrate: %v: %s", err, out)
	}
	for _, w := range want {
		if !strings.Contains(string(out), w) {
			t.Errorf("migrate printed %q, want %q in it", out, w)
		}
	}
}

// logFiles returns the log's checkpoint and its level-0 hash tile and
// entry bundle for the checkpoint's tree, by path.
func logFiles(t *testing.T, url string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{"checkpoint": get(t, url+"/log/checkpoint")}
	c, err := tlog.ParseUnverified(files["checkpoint"])
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{tlog.TilePath(0, 0, int(c.Size)), tlog.EntriesPath(0, int(c.Size))} {
		files[p] = get(t, url+"/log/"+p)
	}
	return files
}

// get returns the body of a 200 answer to a GET.
func get(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v: %s", url, resp.StatusCode, err, b)
	}
	return b
}

// equalFiles reports whether two sets of files are byte-identical.
func equalFiles(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			return false
		}
	}
	return true
}
