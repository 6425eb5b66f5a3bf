package tlog

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	xtlog "golang.org/x/mod/sumdb/tlog"
)

var update = flag.Bool("update", false, "rewrite testdata/log-v1.json and testdata/log/")

const (
	vectorsFile = "testdata/log-v1.json"
	vectorsDir  = "testdata/log"
)

// logVectors is testdata/log-v1.json: a log of five leaves built from
// fixed keys, its checkpoints at sizes 3 and 5 (signed by the log,
// cosigned by one witness) and x/mod's proofs. testdata/log/ holds the
// same log as C2SP serves it: checkpoint (size 5) and the tiles and entry
// bundles of sizes 3 and 5.
type logVectors struct {
	Origin      string          `json:"origin"`
	LogSeed     string          `json:"log_ed25519_seed"`
	LogVkey     string          `json:"log_vkey"`
	WitnessSeed string          `json:"witness_ed25519_seed"`
	WitnessVkey string          `json:"witness_vkey"`
	CosignTime  int64           `json:"cosignature_time"`
	Leaves      []leafVector    `json:"leaves"`
	Checkpoints []cpVector      `json:"checkpoints"`
	Consistency []string        `json:"consistency_proof_3_to_5"`
	Inclusion   [][]string      `json:"inclusion_proofs_at_5"`
	Tiles       map[string]bool `json:"files_in_testdata_log"`
}

type leafVector struct {
	Note string `json:"note"`
	Leaf string `json:"leaf"`
	Hash string `json:"rfc6962_leaf_hash"`
}

type cpVector struct {
	Size   uint64 `json:"size"`
	Body   string `json:"body"`
	Signed string `json:"signed_and_cosigned"`
}

// vectorLeaves are the five leaves: account A's name and first two chain
// entries, then account B's name and genesis. The SHA-256 inputs stand in
// for real chain entries.
func vectorLeaves() ([]Leaf, []string) {
	a, _ := ParseAccountID("00112233445566778899aabbccddeeff")
	b, _ := ParseAccountID("ffeeddccbbaa99887766554433221100")
	ga, gb := sha256.Sum256([]byte("genesis of A")), sha256.Sum256([]byte("genesis of B"))
	return []Leaf{
			&NameLeaf{NameHash: NameHash("alice"), Account: a, GenesisHash: ga},
			&ChainLeaf{Account: a, Seq: 0, EntryHash: ga},
			&ChainLeaf{Account: a, Seq: 1, EntryHash: sha256.Sum256([]byte("entry 1 of A"))},
			&NameLeaf{NameHash: NameHash("bob"), Account: b, GenesisHash: gb},
			&ChainLeaf{Account: b, Seq: 0, EntryHash: gb},
		}, []string{
			`name leaf: NameHash("alice"), account A, SHA-256("genesis of A")`,
			`chain leaf: account A, seq 0, SHA-256("genesis of A")`,
			`chain leaf: account A, seq 1, SHA-256("entry 1 of A")`,
			`name leaf: NameHash("bob"), account B, SHA-256("genesis of B")`,
			`chain leaf: account B, seq 0, SHA-256("genesis of B")`,
		}
}

func makeVectors(t *testing.T) (*logVectors, map[string][]byte) {
	k := newTestKeys(t, 1)
	leaves, notes := vectorLeaves()
	m := &memLog{}
	v := &logVectors{
		Origin: testOrigin, LogSeed: hex.EncodeToString(seed("log")), LogVkey: mustVkey(t, testOrigin, seed("log")),
		WitnessSeed: hex.EncodeToString(seed(testWitness)), WitnessVkey: cosignerVkey(k.witnesses[0]),
		CosignTime: testTime.Unix(), Tiles: map[string]bool{},
	}
	for i, l := range leaves {
		b := l.Marshal()
		m.append(t, b)
		h := xtlog.RecordHash(b)
		v.Leaves = append(v.Leaves, leafVector{notes[i], hex.EncodeToString(b), hex.EncodeToString(h[:])})
	}
	files := map[string][]byte{}
	for _, size := range []uint64{3, 5} {
		c := m.checkpoint(t, size)
		signed := k.sign(t, c, k.witnesses[0])
		v.Checkpoints = append(v.Checkpoints, cpVector{size, string(c.Body()), string(signed)})
		files["checkpoint"] = signed
		s := &server{m: m, size: size}
		for _, p := range []string{TilePath(0, 0, int(size)), EntriesPath(0, int(size))} {
			if files[p], _ = s.Tile(context.Background(), p); files[p] == nil {
				t.Fatalf("no %s", p)
			}
		}
	}
	for p := range files {
		v.Tiles[p] = true
	}
	p, err := xtlog.ProveTree(5, 3, m)
	if err != nil {
		t.Fatal(err)
	}
	v.Consistency = hashStrings(p)
	for i := range int64(5) {
		p, err := xtlog.ProveRecord(5, i, m)
		if err != nil {
			t.Fatal(err)
		}
		v.Inclusion = append(v.Inclusion, hashStrings(p))
	}
	return v, files
}

func hashStrings(hs []Hash) []string {
	var s []string
	for _, h := range hs {
		s = append(s, base64.StdEncoding.EncodeToString(h[:]))
	}
	return s
}

// TestVectors checks that the fixed keys build exactly
// testdata/log-v1.json and the files of testdata/log/. Rewrite them with
// -update.
func TestVectors(t *testing.T) {
	v, files := makeVectors(t)
	js, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	files["../log-v1.json"] = append(js, '\n')
	for p, b := range files {
		path := filepath.Join(vectorsDir, filepath.FromSlash(p))
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if want, err := os.ReadFile(path); err != nil || !bytes.Equal(b, want) {
			t.Errorf("%s differs from what the fixed keys build (%v); rerun with -update if the format changed on purpose", path, err)
		}
	}
}

// dirFetcher serves tiles from a directory laid out as C2SP paths.
type dirFetcher string

func (d dirFetcher) Tile(_ context.Context, path string) ([]byte, error) {
	if _, err := ParseTilePath(path); err != nil {
		return nil, err
	}
	return os.ReadFile(filepath.Join(string(d), filepath.FromSlash(path)))
}

// TestVectorsIndependent reads the vectors from disk and checks them two
// ways: with this package, and with plain x/mod note and tlog calls plus
// crypto/ed25519 for the cosignature.
func TestVectorsIndependent(t *testing.T) {
	js, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var v logVectors
	if err := json.Unmarshal(js, &v); err != nil {
		t.Fatal(err)
	}
	signed, err := os.ReadFile(filepath.Join(vectorsDir, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	var leaves [][]byte
	for _, l := range v.Leaves {
		b, _ := hex.DecodeString(l.Leaf)
		if _, err := ParseLeaf(b); err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, b)
	}

	// Plain x/mod: the log's signature, the root from the leaves, proofs.
	logV, err := note.NewVerifier(v.LogVkey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(signed, note.VerifierList(logV))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(n.Text, "\n")
	rootBytes, _ := base64.StdEncoding.DecodeString(lines[2])
	root := Hash(rootBytes)
	hashes := &memLog{}
	for _, l := range leaves {
		hashes.append(t, l)
	}
	if th, err := xtlog.TreeHash(5, hashes); err != nil || th != root || lines[0] != v.Origin || lines[1] != "5" {
		t.Fatalf("checkpoint %q does not match the leaves: %v", n.Text, err)
	}
	for i, p := range v.Inclusion {
		if err := xtlog.CheckRecord(parseHashes(t, p), 5, root, int64(i), xtlog.RecordHash(leaves[i])); err != nil {
			t.Fatalf("inclusion proof %d: %v", i, err)
		}
	}
	old, _ := xtlog.TreeHash(3, hashes)
	if err := xtlog.CheckTree(parseHashes(t, v.Consistency), 5, root, 3, old); err != nil {
		t.Fatal(err)
	}
	// The cosignature by hand, from the C2SP text.
	wseed, _ := hex.DecodeString(v.WitnessSeed)
	wpub := ed25519.NewKeyFromSeed(wseed).Public().(ed25519.PublicKey)
	if len(n.UnverifiedSigs) != 1 {
		t.Fatalf("%d other signatures", len(n.UnverifiedSigs))
	}
	raw, _ := base64.StdEncoding.DecodeString(n.UnverifiedSigs[0].Base64)
	msg := "cosignature/v1\ntime " + "1700000000" + "\n" + n.Text
	if binary.BigEndian.Uint64(raw[4:12]) != uint64(v.CosignTime) || !ed25519.Verify(wpub, []byte(msg), raw[12:]) {
		t.Fatal("cosignature does not verify by hand")
	}

	// This package: the policy, then the client's checks over real files.
	w, err := NewCosignatureVerifier(v.WitnessVkey)
	if err != nil {
		t.Fatal(err)
	}
	c, names, err := Policy{Log: logV, Witnesses: []note.Verifier{w}, Threshold: 1}.Verify(signed)
	if err != nil || c.Root != root || !slices.Equal(names, []string{testWitness}) {
		t.Fatalf("policy: %v by %v", err, names)
	}
	ctx := context.Background()
	f := dirFetcher(vectorsDir)
	got, err := ReadLeaves(ctx, f, *c, 0, 5)
	if err != nil || !slices.EqualFunc(got, leaves, bytes.Equal) {
		t.Fatalf("ReadLeaves: %v", err)
	}
	for i, l := range leaves {
		if err := VerifyInclusion(ctx, f, *c, uint64(i), l); err != nil {
			t.Fatal(err)
		}
	}
	if err := VerifyConsistency(ctx, f, 3, old, *c); err != nil {
		t.Fatal(err)
	}
	c3, err := ParseBody([]byte(v.Checkpoints[0].Body))
	if err != nil || c3.Root != old {
		t.Fatalf("size-3 checkpoint: %v", err)
	}
	if err := VerifyConsistency(ctx, f, 0, Hash{}, c3); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadLeaves(ctx, f, c3, 0, 3); err != nil {
		t.Fatalf("size 3 from its own tiles: %v", err)
	}
}

func parseHashes(t *testing.T, s []string) []Hash {
	var hs []Hash
	for _, x := range s {
		b, err := base64.StdEncoding.DecodeString(x)
		if err != nil || len(b) != 32 {
			t.Fatalf("hash %q", x)
		}
		hs = append(hs, Hash(b))
	}
	return hs
}
