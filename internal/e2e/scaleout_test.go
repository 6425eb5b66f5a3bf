package e2e

// Two coffer serve processes sharing one PostgreSQL database and one S3
// bucket (issue 9, "N instances"), driven by real clients.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/note"
	xtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/server/meta"
	"github.com/coffer-backup/coffer/internal/server/meta/pgtest"
	"github.com/coffer-backup/coffer/internal/server/objects"
	"github.com/coffer-backup/coffer/internal/store/remote"
	s3store "github.com/coffer-backup/coffer/internal/store/s3"
	"github.com/coffer-backup/coffer/internal/store/s3/s3test"
	"github.com/coffer-backup/coffer/internal/tlog"
)

// scaled is a cluster of coffer serve instances sharing one database, one
// bucket and one log key.
type scaled struct {
	s3     *s3test.Server
	bucket string
	db     string   // the PostgreSQL database's URL
	logKey string   // the shared --log-key file
	vkey   string   // its verifier key
	flags  []string // every instance's flags
	// catalog: the instances keep the object catalog (--object-catalog).
	catalog bool
}

// newScaled makes an empty database, an empty bucket and a log key; no
// instance is running yet.
func newScaled(t *testing.T) *scaled {
	t.Helper()
	c := &scaled{s3: s3test.Start(t)}
	c.bucket = c.s3.Bucket(t)
	c.logKey, c.vkey = writeLogKey(t)
	c.db = pgtest.URL(t)
	c.flags = []string{"--insecure-http", "--rate", "0", "--db", c.db, "--log-key", c.logKey,
		"--objects", "s3://" + c.bucket + "/server", "--s3-endpoint", c.s3.Endpoint}
	return c
}

// writeLogKey writes a new log signer key in the format of DATA/log.key
// and returns its path and verifier key.
func writeLogKey(t *testing.T) (path, vkey string) {
	t.Helper()
	skey, vkey, err := tlog.GenerateLogKey("coffer.log/e2e-scaled")
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), "log.key")
	if err := os.WriteFile(path, []byte(skey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, vkey
}

// start runs n instances together, each with a data directory of its own,
// and waits until all serve.
func (c *scaled) start(t *testing.T, n int) []*serverProc {
	t.Helper()
	procs := make([]*serverProc, n)
	for i := range procs {
		procs[i] = launchServer(t, t.TempDir(), "127.0.0.1:0", c.flags...)
	}
	for i, p := range procs {
		if err := p.await(); err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
	}
	return procs
}

// TestScaleOut runs two instances started together on an empty database
// and bucket, with a witness cosigning their checkpoints and clients
// spread over both.
func TestScaleOut(t *testing.T) {
	c := newScaled(t)
	w := startWitness(t, c.vkey)
	c.flags = append(c.flags, "--witness", w.vkey+"="+w.url)
	srv := c.start(t, 2)
	defer noRefusals(t, srv)
	t.Run("pairing across instances", func(t *testing.T) { testPairAcross(t, srv) })
	t.Run("kill mid-backup", func(st *testing.T) { testKillMidBackup(st, t, c, srv) })
	t.Run("concurrent appends", func(t *testing.T) { testConcurrentAppends(t, c, srv) })
	t.Run("another log key", func(t *testing.T) { testOtherLogKey(t, c) })
}

// TestScaleOutCatalog runs two instances with the object catalog in
// PostgreSQL (--object-catalog): pairing across them, and a kill -9
// mid-backup.
func TestScaleOutCatalog(t *testing.T) {
	c := newScaled(t)
	c.flags, c.catalog = append(c.flags, "--object-catalog"), true
	srv := c.start(t, 2)
	t.Run("pairing across instances", func(t *testing.T) { testPairAcross(t, srv) })
	t.Run("kill mid-backup", func(st *testing.T) { testKillMidBackup(st, t, c, srv) })
	t.Run("only recorded keys", func(t *testing.T) { testOnlyRecordedKeys(t, c) })
}

// testOnlyRecordedKeys requires every key in the bucket, after the kill,
// to be recorded in the catalog, and a sweep to leave exactly the keys of
// stored objects.
func testOnlyRecordedKeys(t *testing.T, c *scaled) {
	ctx := context.Background()
	db, err := meta.OpenPostgres(ctx, c.db)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	states := catalogStates(t, c.db)
	orphans := 0
	for _, key := range c.accountKeys(t) {
		st, ok := states[path.Base(key)]
		if !ok {
			t.Errorf("key %s is not in the catalog", key)
		}
		if st != meta.ObjectStored {
			orphans++
		}
	}
	inner, err := objects.NewS3(ctx, s3store.Location{Bucket: c.bucket, Prefix: "server"}, c.s3.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	n, err := objects.NewCataloged(inner, db).Sweep(ctx, -time.Second) // no upload is in flight
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d keys of dead reservations after the kill; %d rows swept", orphans, n)
	states = catalogStates(t, c.db)
	keys := c.accountKeys(t)
	for _, key := range keys {
		if states[path.Base(key)] != meta.ObjectStored {
			t.Errorf("key %s is left after the sweep (%q)", key, states[path.Base(key)])
		}
	}
	if len(keys) != len(states) {
		t.Errorf("%d keys and %d rows after the sweep", len(keys), len(states))
	}
}

// awaitReservation waits up to 10 s until the catalog holds a reserved
// row, an upload in progress, so that a kill then leaves one.
func awaitReservation(t *testing.T, url string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		var n int
		err := conn.QueryRow(context.Background(), "SELECT count(*) FROM object_catalog WHERE state = 'reserved'").Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
	}
	t.Log("no upload was in progress within 10 s; killing anyway")
}

// catalogStates maps each key of the catalog to its state.
func catalogStates(t *testing.T, url string) map[string]string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), "SELECT key, state FROM object_catalog")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	var key, state string
	_, err = pgx.ForEachRow(rows, []any{&key, &state}, func() error { m[key] = state; return nil })
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// accountKeys lists the bucket's keys under the accounts' prefix.
func (c *scaled) accountKeys(t *testing.T) []string {
	t.Helper()
	prefix := "server/accounts/"
	pages := awss3.NewListObjectsV2Paginator(c.s3.Client(), &awss3.ListObjectsV2Input{Bucket: &c.bucket, Prefix: &prefix})
	var keys []string
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

// noRefusals fails the test if an instance logged that the witness did
// not cosign a checkpoint: instances publishing in turn must never send
// it an old size.
func noRefusals(t *testing.T, srv []*serverProc) {
	t.Helper()
	for i, p := range srv {
		if p.logged("did not cosign") {
			t.Errorf("instance %d: the witness refused a checkpoint:\n%s", i, p.tail(10))
		}
	}
}

// testPairAcross pairs a device of an account made through one instance
// (device add talks to it) with one joining through the other, and each
// restores what the other backed up.
func testPairAcross(t *testing.T, srv []*serverProc) {
	a, b := newUser(t, "laptop"), newUser(t, "phone")
	a.run(t, "init", "--store", srv[0].URL)
	pair(t, a, b, srv[1].URL)
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, 7, 200<<10, 3)
	a.run(t, "backup", src)
	out := t.TempDir()
	b.run(t, "restore", "latest", "--target", out)
	sameTree(t, filepath.Join(out, "src"), src)
	b.run(t, "backup", src)
	if n := snapshotCount(t, a); n != 2 {
		t.Errorf("the laptop sees %d snapshots through one instance, want the 2 made through both", n)
	}
}

// testKillMidBackup kills with SIGKILL the instance a client backs up
// through, behind a failover proxy that then sends the client to the
// survivor; the backup completes (by the client's retries or when run
// again), and the store checks clean with every object in the bucket
// whole. The killed instance is started again on its address, under top,
// for the next subtests.
func testKillMidBackup(t, top *testing.T, c *scaled, srv []*serverProc) {
	lb := failover(t, srv[0].listen, srv[1].listen)
	alice := newUser(t, "alice")
	var ia initOut
	alice.runJSON(t, &ia, "init", "--store", lb)
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, 11, 40<<20, 40<<20, 1<<20)
	backup := alice.command(context.Background(), nil, "backup", src)
	if err := backup.Start(); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() { ended <- backup.Wait() }()
	srv[0].awaitPackStored(t, ended) // the failover proxy sends every connection to srv[0] while it is up
	if c.catalog {
		awaitReservation(t, c.db)
	}
	srv[0].kill()
	if err := <-ended; err != nil {
		t.Logf("the backup interrupted by the kill failed (%v); running it again", err)
		alice.run(t, "backup", src)
	}
	alice.run(t, "check", "--read-data")
	out := t.TempDir()
	alice.run(t, "restore", "latest", "--target", out)
	sameTree(t, filepath.Join(out, "src"), src)
	wholePacks(t, c, ia.Account)
	srv[0] = startServer(top, t.TempDir(), srv[0].listen, c.flags...)
}

// failover is a TCP proxy on a loopback port that sends each connection
// to the first of the backends that accepts it, as a load balancer does
// when its health check marks an instance down. It returns its URL.
func failover(t *testing.T, backends ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go proxyConn(conn, backends)
		}
	}()
	return "http://" + ln.Addr().String()
}

// proxyConn copies conn to and from the first backend that accepts a
// connection, and closes both when either side ends.
func proxyConn(conn net.Conn, backends []string) {
	defer conn.Close()
	for _, b := range backends {
		up, err := net.Dial("tcp", b)
		if err != nil {
			continue
		}
		defer up.Close()
		go func() { io.Copy(up, conn); up.Close() }()
		io.Copy(conn, up)
		return
	}
}

// wholePacks reads every pack of the account in the bucket and requires
// its bytes to hash to its name: no partial object is visible.
func wholePacks(t *testing.T, c *scaled, account string) {
	t.Helper()
	ctx := context.Background()
	prefix := "server/accounts/" + account + "/packs/"
	pages := awss3.NewListObjectsV2Paginator(c.s3.Client(), &awss3.ListObjectsV2Input{Bucket: &c.bucket, Prefix: &prefix})
	n := 0
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			n++
			checkWhole(t, c, aws.ToString(o.Key))
		}
	}
	if n == 0 {
		t.Error("no pack in the bucket")
	}
}

// checkWhole requires the object at key to hash to the last part of key.
func checkWhole(t *testing.T, c *scaled, key string) {
	t.Helper()
	obj, err := c.s3.Client().GetObject(context.Background(), &awss3.GetObjectInput{Bucket: &c.bucket, Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	h := sha256.New()
	if _, err := io.Copy(h, obj.Body); err != nil {
		t.Fatal(err)
	}
	name, _, _ := strings.Cut(path.Base(key), ".") // a catalog's unique key is NAME.RANDOM
	if got := hex.EncodeToString(h.Sum(nil)); got != name {
		t.Errorf("%s holds bytes hashing to %s: a partial object", key, got)
	}
}

// testOtherLogKey requires an instance given another log key to refuse
// to start on the shared database.
func testOtherLogKey(t *testing.T, c *scaled) {
	other, _ := writeLogKey(t)
	flags := append([]string{}, c.flags...)
	for i := range flags {
		if flags[i] == c.logKey {
			flags[i] = other
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, coffer, append([]string{"serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0"}, flags...)...)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "refusing to start") {
		t.Errorf("an instance with another log key: %v: %s", err, out)
	}
}

// appender is an account made through one instance, whose name was
// registered through the other.
type appender struct {
	account, name string
	index         uint64 // of the name's leaf, as the server answers
}

// newAppender registers a new account with device dev at url and opens
// it at url2 too.
func newAppender(ctx context.Context, dev *keys.Device, account, url, url2 string) (*remote.Store, *remote.Store, error) {
	nk, err := repo.NewAccount(account, dev)
	if err != nil {
		return nil, nil, fmt.Errorf("new account: %w", err)
	}
	defer nk.Zero()
	o := remote.Options{Account: nk.Account, Device: dev, Genesis: nk.Genesis}
	s, err := remote.Create(ctx, url, o)
	if err != nil {
		return nil, nil, fmt.Errorf("creating an account: %w", err)
	}
	s2, err := remote.Open(url2, o)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, s2, nil
}

// testConcurrentAppends makes accounts and registers names through both
// instances at once while a watcher reads checkpoints from both: the log
// holds exactly the accepted leaves at the indexes returned, each
// answered leaf is covered by the next checkpoint, checkpoints grow
// consistently, and both instances serve byte-identical checkpoints and
// tiles that verify with plain x/mod.
func testConcurrentAppends(t *testing.T, c *scaled, srv []*serverProc) {
	const perInstance = 12
	ctx := context.Background()
	stop := make(chan struct{})
	watched := make(chan error, 1)
	go func() { watched <- watchCheckpoints(c, srv, stop) }()
	apps := make([]appender, 2*perInstance)
	errs := make([]error, len(apps))
	var wg sync.WaitGroup
	for i := range apps {
		wg.Go(func() { apps[i], errs[i] = appendThrough(ctx, c, srv, i) })
	}
	wg.Wait()
	close(stop)
	if err := <-watched; err != nil {
		t.Error(err)
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("appender %d: %v", i, err)
		}
	}
	checkLog(t, c, srv, apps)
}

// appendThrough makes an account through instance i%2 and registers its
// name through the other, then requires the name's leaf index to lie in
// the checkpoint the first instance serves right after the answer.
func appendThrough(ctx context.Context, c *scaled, srv []*serverProc, i int) (appender, error) {
	dev, err := keys.NewDevice("appender")
	if err != nil {
		return appender{}, err
	}
	defer dev.Zero()
	var id [16]byte
	rand.Read(id[:])
	a := appender{account: hex.EncodeToString(id[:]), name: fmt.Sprintf("appender-%d", i)}
	s, other, err := newAppender(ctx, dev, a.account, srv[i%2].URL, srv[(i+1)%2].URL)
	if err != nil {
		return appender{}, err
	}
	defer s.Close()
	defer other.Close()
	if err := other.RegisterName(ctx, a.name); err != nil {
		return a, fmt.Errorf("registering %s: %w", a.name, err)
	}
	if _, a.index, err = s.LookupName(ctx, a.name); err != nil {
		return a, err
	}
	tree, _, err := checkpoint(c, srv[i%2].URL)
	if err == nil && int64(a.index) >= tree.N {
		err = fmt.Errorf("%s: leaf %d answered but the checkpoint has %d leaves", a.name, a.index, tree.N)
	}
	return a, err
}

// checkpoint fetches the instance's checkpoint and verifies its signature
// by the shared log key with plain x/mod.
func checkpoint(c *scaled, url string) (xtlog.Tree, []byte, error) {
	signed, err := httpGet(url + "/log/checkpoint")
	if err != nil {
		return xtlog.Tree{}, nil, err
	}
	v, err := note.NewVerifier(c.vkey)
	if err != nil {
		return xtlog.Tree{}, nil, err
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return xtlog.Tree{}, nil, fmt.Errorf("checkpoint of %s: %w", url, err)
	}
	tree, err := parseTree(n.Text, v.Name())
	return tree, signed, err
}

// parseTree parses a checkpoint's text: origin, size, root hash.
func parseTree(text, origin string) (xtlog.Tree, error) {
	lines := strings.Split(text, "\n")
	if len(lines) != 4 || lines[0] != origin || lines[3] != "" {
		return xtlog.Tree{}, fmt.Errorf("checkpoint text %q", text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return xtlog.Tree{}, fmt.Errorf("checkpoint size %q: %w", lines[1], err)
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != xtlog.HashSize {
		return xtlog.Tree{}, fmt.Errorf("checkpoint root %q", lines[2])
	}
	return xtlog.Tree{N: size, Hash: xtlog.Hash(root)}, nil
}

// httpGet fetches url over plain net/http and requires a 200.
func httpGet(url string) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return b, err
}

// tiles is an x/mod TileReader over an instance's /log/ paths.
type tiles struct{ base string }

func (h tiles) Height() int                      { return 8 }
func (h tiles) SaveTiles([]xtlog.Tile, [][]byte) {}

func (h tiles) ReadTiles(ts []xtlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, tile := range ts {
		b, err := httpGet(h.base + "/log/" + c2spPath(tile))
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// c2spPath is the C2SP tlog-tiles path of an x/mod tile of height 8.
func c2spPath(t xtlog.Tile) string {
	level := strconv.Itoa(t.L)
	if t.L == -1 {
		level = "entries"
	}
	n := fmt.Sprintf("%03d", t.N%1000)
	for rest := t.N / 1000; rest > 0; rest /= 1000 {
		n = fmt.Sprintf("x%03d/%s", rest%1000, n)
	}
	if t.W != 256 {
		n += ".p/" + strconv.Itoa(t.W)
	}
	return "tile/" + level + "/" + n
}

// watchCheckpoints reads the checkpoint of each instance in turn until
// stop is closed, and requires each to extend the last one read
// (consistency proved with x/mod over the instance's tiles).
func watchCheckpoints(c *scaled, srv []*serverProc, stop <-chan struct{}) error {
	var last xtlog.Tree
	for i := 0; ; i++ {
		select {
		case <-stop:
			return nil
		case <-time.After(20 * time.Millisecond):
		}
		url := srv[i%2].URL
		tree, _, err := checkpoint(c, url)
		if err != nil {
			return err
		}
		if err := extends(url, last, tree); err != nil {
			return err
		}
		last = tree
	}
}

// extends requires tree to be last or a consistent extension of it.
func extends(url string, last, tree xtlog.Tree) error {
	switch {
	case tree.N < last.N:
		return fmt.Errorf("%s: checkpoint of %d leaves after one of %d", url, tree.N, last.N)
	case tree.N == last.N && tree.Hash != last.Hash:
		return fmt.Errorf("%s: two checkpoints of %d leaves with different roots", url, tree.N)
	case tree.N == last.N || last.N == 0:
		return nil
	}
	hr := xtlog.TileHashReader(tree, tiles{url})
	proof, err := xtlog.ProveTree(tree.N, last.N, hr)
	if err == nil {
		err = xtlog.CheckTree(proof, tree.N, tree.Hash, last.N, last.Hash)
	}
	if err != nil {
		return fmt.Errorf("%s: checkpoint of %d leaves is not consistent with %d: %w", url, tree.N, last.N, err)
	}
	return nil
}

// checkLog requires both instances to serve byte-identical checkpoints and
// tiles, every leaf to verify with x/mod against the checkpoint of the
// first from the tiles of the second, and the log to hold exactly the
// accepted leaves.
func checkLog(t *testing.T, c *scaled, srv []*serverProc, apps []appender) {
	t.Helper()
	tree, signed, err := checkpoint(c, srv[0].URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, signed1, err := checkpoint(c, srv[1].URL); err != nil || string(signed1) != string(signed) {
		t.Fatalf("the instances serve different checkpoints (%v):\n%s\n%s", err, signed, signed1)
	}
	sameTiles(t, srv, tree)
	leaves := readLeaves(t, srv[1].URL, tree)
	hr := xtlog.TileHashReader(tree, tiles{srv[1].URL})
	for i, leaf := range leaves {
		proof, err := xtlog.ProveRecord(tree.N, int64(i), hr)
		if err == nil {
			err = xtlog.CheckRecord(proof, tree.N, tree.Hash, int64(i), xtlog.RecordHash(leaf))
		}
		if err != nil {
			t.Fatalf("leaf %d: %v", i, err)
		}
	}
	exactLeaves(t, leaves, apps)
}

// sameTiles requires every hash tile and entry bundle of tree to be
// byte-identical on both instances.
func sameTiles(t *testing.T, srv []*serverProc, tree xtlog.Tree) {
	t.Helper()
	ts := xtlog.NewTiles(8, 0, tree.N)
	for _, tile := range ts {
		if tile.L == 0 {
			ts = append(ts, xtlog.Tile{H: 8, L: -1, N: tile.N, W: tile.W})
		}
	}
	for _, tile := range ts {
		a, err := tiles{srv[0].URL}.ReadTiles([]xtlog.Tile{tile})
		if err != nil {
			t.Fatal(err)
		}
		b, err := tiles{srv[1].URL}.ReadTiles([]xtlog.Tile{tile})
		if err != nil {
			t.Fatal(err)
		}
		if string(a[0]) != string(b[0]) {
			t.Errorf("%s differs between the instances", c2spPath(tile))
		}
	}
}

// readLeaves reads every leaf of tree from the instance's entry bundles.
func readLeaves(t *testing.T, url string, tree xtlog.Tree) [][]byte {
	t.Helper()
	var leaves [][]byte
	for n := int64(0); n*256 < tree.N; n++ {
		w := int(min(256, tree.N-n*256))
		b, err := tiles{url}.ReadTiles([]xtlog.Tile{{H: 8, L: -1, N: n, W: w}})
		if err != nil {
			t.Fatal(err)
		}
		bundle, err := tlog.ParseBundle(b[0], w)
		if err != nil {
			t.Fatalf("entry bundle %d: %v", n, err)
		}
		leaves = append(leaves, bundle...)
	}
	return leaves
}

// exactLeaves requires each appender's name leaf at the index it was
// answered, each account's chain leaves once each from sequence number
// 0 up, and no name leaf other than the appenders'.
func exactLeaves(t *testing.T, leaves [][]byte, apps []appender) {
	t.Helper()
	names, seqs := nameIndexes(apps), map[tlog.AccountID]uint64{}
	for i, b := range leaves {
		l, err := tlog.ParseLeaf(b)
		if err != nil {
			t.Fatalf("leaf %d: %v", i, err)
		}
		switch l := l.(type) {
		case *tlog.ChainLeaf:
			if l.Seq != seqs[l.Account] {
				t.Errorf("leaf %d: entry %d of account %x, want %d", i, l.Seq, l.Account, seqs[l.Account])
			}
			seqs[l.Account] = l.Seq + 1
		case *tlog.NameLeaf:
			if a, ok := names[l.NameHash]; !ok || a.index != uint64(i) || hex.EncodeToString(l.Account[:]) != a.account {
				t.Errorf("leaf %d: a name leaf for account %x that no appender was answered (%+v)", i, l.Account, a)
			}
			delete(names, l.NameHash)
		}
	}
	for _, a := range names {
		t.Errorf("name %s (leaf %d) is not in the log", a.name, a.index)
	}
	for _, a := range apps {
		if id, _ := tlog.ParseAccountID(a.account); seqs[id] == 0 {
			t.Errorf("account %s has no chain leaf", a.account)
		}
	}
}

// nameIndexes maps the hash of each appender's name to the appender.
func nameIndexes(apps []appender) map[[32]byte]appender {
	m := make(map[[32]byte]appender, len(apps))
	for _, a := range apps {
		m[tlog.NameHash(a.name)] = a
	}
	return m
}
