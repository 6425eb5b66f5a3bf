package server

// This file checks the served log with nothing of Coffer's own log code:
// only golang.org/x/mod's sumdb/tlog and sumdb/note, net/http and the
// standard library, with the C2SP paths and leaf layout written out here
// from docs/transparency.md.

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/coffer-backup/coffer/internal/server/meta"
)

// xmodGet fetches a path of the server over plain net/http.
func xmodGet(t *testing.T, url string) ([]byte, error) {
	t.Helper()
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

// c2spPath is the C2SP tlog-tiles path of an x/mod tile of height 8:
// tile/<L>/<N> or tile/entries/<N>, N in groups of three digits, all but
// the last prefixed x, and .p/<W> for a partial tile.
func c2spPath(t tlog.Tile) string {
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

// httpTiles is an x/mod TileReader over the server's /log/ paths.
type httpTiles struct {
	t    *testing.T
	base string
}

func (h httpTiles) Height() int                     { return 8 }
func (h httpTiles) SaveTiles([]tlog.Tile, [][]byte) {}

func (h httpTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, tile := range tiles {
		b, err := xmodGet(h.t, h.base+c2spPath(tile))
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// xmodChainLeaf is the chain leaf of docs/transparency.md §T.1: 0x01 0x01,
// the account ID's 16 bytes, seq (8, big-endian), SHA-256 of the entry.
func xmodChainLeaf(t *testing.T, account string, seq uint64, entry []byte) []byte {
	t.Helper()
	id, err := hex.DecodeString(account)
	if err != nil || len(id) != 16 {
		t.Fatalf("account %q", account)
	}
	sum := sha256.Sum256(entry)
	leaf := append([]byte{0x01, 0x01}, id...)
	leaf = binary.BigEndian.AppendUint64(leaf, seq)
	return append(leaf, sum[:]...)
}

// TestLogIndependent fetches the checkpoint, verifies the log's signature
// with the key in DATA/log.vkey, proves every leaf in the checkpoint's
// tree from tiles fetched by their C2SP paths, and reads the entry
// bundles, all with plain x/mod.
func TestLogIndependent(t *testing.T) {
	var data string
	e := newEnv(t, func(c *Config) { data = c.Data })
	a := e.newAccount(1)
	page := e.chainEntries(a)
	want := [][]byte{xmodChainLeaf(t, a.id, 0, page[0]), xmodChainLeaf(t, a.id, 1, page[1])}
	ctx := context.Background()
	for i := range 298 {
		account, g := fmt.Sprintf("%032x", 0xb000+i), fmt.Appendf(nil, "genesis %d", i)
		if _, err := e.s.db.CreateAccount(ctx, account, g, meta.Change{At: e.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		want = append(want, xmodChainLeaf(t, account, 0, g))
	}
	b := e.newAccount(2) // logged after the others, and published before it is answered
	page = e.chainEntries(b)
	want = append(want, xmodChainLeaf(t, b.id, 0, page[0]), xmodChainLeaf(t, b.id, 1, page[1]))

	// The checkpoint, signed by the key in DATA/log.vkey.
	vkey, err := os.ReadFile(filepath.Join(data, "log.vkey"))
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		t.Fatal(err)
	}
	signed, err := xmodGet(t, e.url+"/log/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(signed, note.VerifierList(verifier))
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) != 4 || lines[0] != verifier.Name() || lines[3] != "" {
		t.Fatalf("checkpoint text %q", n.Text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size != int64(len(want)) {
		t.Fatalf("checkpoint size %q, want %d", lines[1], len(want))
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		t.Fatalf("checkpoint root %q", lines[2])
	}
	tree := tlog.Tree{N: size, Hash: tlog.Hash(root)}

	// Every leaf proved from authenticated tiles.
	hashes := tlog.TileHashReader(tree, httpTiles{t: t, base: e.url + "/log/"})
	for i, leaf := range want {
		proof, err := tlog.ProveRecord(size, int64(i), hashes)
		if err != nil {
			t.Fatalf("proving leaf %d: %v", i, err)
		}
		if err := tlog.CheckRecord(proof, size, tree.Hash, int64(i), tlog.RecordHash(leaf)); err != nil {
			t.Errorf("leaf %d: %v", i, err)
		}
	}
	// The entry bundles hold the leaves, each after its 2-byte length.
	var bundled [][]byte
	for _, path := range []string{"tile/entries/000", "tile/entries/001.p/46"} {
		b, err := xmodGet(t, e.url+"/log/"+path)
		if err != nil {
			t.Fatal(err)
		}
		for len(b) >= 2 {
			l := int(binary.BigEndian.Uint16(b))
			if len(b) < 2+l {
				t.Fatalf("%s: truncated", path)
			}
			bundled, b = append(bundled, b[2:2+l]), b[2+l:]
		}
		if len(b) != 0 {
			t.Fatalf("%s: %d trailing bytes", path, len(b))
		}
	}
	if len(bundled) != len(want) {
		t.Fatalf("%d leaves in the bundles, want %d", len(bundled), len(want))
	}
	for i := range want {
		if string(bundled[i]) != string(want[i]) {
			t.Errorf("bundled leaf %d: %x, want %x", i, bundled[i], want[i])
		}
	}
	// A tile beyond the checkpoint is not served.
	if _, err := xmodGet(t, e.url+"/log/tile/0/001.p/47"); err == nil {
		t.Error("a tile beyond the checkpoint was served")
	}
}
