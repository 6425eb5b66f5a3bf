// Package pgtest starts a throwaway PostgreSQL 15 cluster for tests, one
// per test binary, and makes an empty database in it for each test that
// asks. Tests run against the real server, never a mock.
//
// When the binaries are missing (BinDir, or EnvBin), a test that needs PostgreSQL is
// skipped with a message saying what to install, except under CI (CI=true),
// where it fails. COFFER_TEST_POSTGRES, if set, is the URL of an existing
// server to use instead (its user must be allowed to create databases).
package pgtest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// BinDir holds the PostgreSQL 15 server binaries (Debian's postgresql-15),
// unless EnvBin names another directory.
const BinDir = "/usr/lib/postgresql/15/bin"

// EnvBin names the environment variable of another directory of
// PostgreSQL's server binaries (initdb, pg_ctl).
const EnvBin = "COFFER_TEST_POSTGRES_BIN"

// binDir returns the directory of the server binaries.
func binDir() string {
	if d := os.Getenv(EnvBin); d != "" {
		return d
	}
	return BinDir
}

// EnvURL names the environment variable of an existing server's URL.
const EnvURL = "COFFER_TEST_POSTGRES"

// cluster is the cluster of this test binary, started on first use.
var cluster struct {
	once sync.Once
	c    *Cluster
	err  error
}

// Cluster is a running PostgreSQL cluster.
type Cluster struct {
	url   string // of its postgres database, as the superuser
	dir   string // its directory, removed by Stop; empty for EnvURL
	owner string // the user the server runs as, if not the current one
	dbs   atomic.Int64
}

// Main runs a package's tests (call it from TestMain) and stops the
// cluster afterwards if one was started.
func Main(m *testing.M) int {
	code := m.Run()
	if cluster.c != nil {
		if err := cluster.c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
	}
	return code
}

// URL returns the URL of a new empty database for the test, dropped when
// the test ends. It skips or fails the test as the package comment says
// if PostgreSQL is missing.
func URL(t testing.TB) string {
	t.Helper()
	c := shared(t)
	// The process ID keeps apart the databases of test binaries sharing
	// a server given by EnvURL.
	name := fmt.Sprintf("coffer_test_%d_%d", os.Getpid(), c.dbs.Add(1))
	if err := c.exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := c.exec("DROP DATABASE " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	u, err := c.database(name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return u
}

// shared returns the test binary's cluster, starting it on first use.
func shared(t testing.TB) *Cluster {
	t.Helper()
	if _, err := os.Stat(filepath.Join(binDir(), "initdb")); err != nil && os.Getenv(EnvURL) == "" {
		missing(t, err)
	}
	cluster.once.Do(func() {
		if u := os.Getenv(EnvURL); u != "" {
			cluster.c = &Cluster{url: u}
			return
		}
		cluster.c, cluster.err = Start()
	})
	if cluster.err != nil {
		t.Fatalf("pgtest: starting PostgreSQL: %v", cluster.err)
	}
	return cluster.c
}

// missing skips the test, or fails it under CI.
func missing(t testing.TB, err error) {
	t.Helper()
	msg := fmt.Sprintf("PostgreSQL 15 is not installed (%v): install postgresql-15 (apt-get install postgresql-15, as make test does when root) or set %s", err, EnvURL)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Start initialises and starts a cluster in a new directory under /tmp,
// listening on 127.0.0.1 at a free port and on a unix socket in that
// directory. As root, the cluster belongs to the postgres user, as
// PostgreSQL refuses to run as root.
func Start() (*Cluster, error) {
	c := &Cluster{}
	if os.Geteuid() == 0 {
		c.owner = "postgres"
	}
	var err error
	if c.dir, err = c.makeDir(); err != nil {
		return nil, err
	}
	if err := c.start(); err != nil {
		_ = os.RemoveAll(c.dir) // the start's error is the one to report
		return nil, err
	}
	return c, nil
}

// makeDir makes the cluster's directory, owned by its owner: outside the
// test's temporary directories, which root makes 0700, and short, as the
// socket's path must stay under 107 bytes.
func (c *Cluster) makeDir() (string, error) {
	dir, err := os.MkdirTemp("/tmp", "coffer-pg-")
	if err != nil {
		return "", err
	}
	if c.owner == "" {
		return dir, nil
	}
	u, err := user.Lookup(c.owner)
	if err != nil {
		_ = os.RemoveAll(dir) // the lookup's error is the one to report
		return "", fmt.Errorf("PostgreSQL must run as %s: %w", c.owner, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		_ = os.RemoveAll(dir) // the chown's error is the one to report
		return "", err
	}
	return dir, nil
}

// start runs initdb and pg_ctl start at a free port, trying another port
// if that one was taken meanwhile.
func (c *Cluster) start() error {
	data := filepath.Join(c.dir, "data")
	if err := c.run("initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"); err != nil {
		return err
	}
	var err error
	for range 3 {
		var port int
		if port, err = freePort(); err != nil {
			return err
		}
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c max_connections=200", port, c.dir)
		if err = c.run("pg_ctl", "-D", data, "-w", "-t", "60", "-l", filepath.Join(c.dir, "log"), "-o", opts, "start"); err == nil {
			c.url = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
			return nil
		}
	}
	return err
}

// Stop stops the cluster at once and removes its directory.
func (c *Cluster) Stop() error {
	if c.dir == "" {
		return nil
	}
	err := c.run("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "-w", "stop")
	if rerr := os.RemoveAll(c.dir); err == nil {
		err = rerr
	}
	return err
}

// run runs a PostgreSQL binary as the cluster's owner.
func (c *Cluster) run(name string, args ...string) error {
	path := filepath.Join(binDir(), name)
	if c.owner != "" {
		args = append([]string{"-u", c.owner, "--", path}, args...)
		path = "runuser"
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// exec runs one statement in the postgres database.
func (c *Cluster) exec(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx) //nolint:errcheck // the statement's outcome is what counts
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

// database returns the URL of the named database of the cluster.
func (c *Cluster) database(name string) (string, error) {
	u, err := url.Parse(c.url)
	if err != nil {
		return "", fmt.Errorf("the server's URL: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}
