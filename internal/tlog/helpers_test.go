package tlog

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	xtlog "golang.org/x/mod/sumdb/tlog"
)

const (
	testOrigin  = "log.coffer.example/v1"
	testWitness = "witness.example/w1"
)

// testTime is the clock of test cosigners.
var testTime = time.Unix(1700000000, 0)

// seed returns a fixed Ed25519 seed for a label.
func seed(label string) []byte {
	s := sha256.Sum256([]byte("coffer tlog test seed " + label))
	return s[:]
}

// logSkey writes the x/mod secret key of an Ed25519 log key from a seed.
func logSkey(origin string, seed []byte) string {
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	h := sha256.Sum256(append([]byte(origin+"\n\x01"), pub...))
	return fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", origin, binary.BigEndian.Uint32(h[:]), base64.StdEncoding.EncodeToString(append([]byte{1}, seed...)))
}

// cosignerSkey writes a cosigner's secret key from a seed.
func cosignerSkey(name string, seed []byte) string {
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	return skeyPrefix + encodeKey(name, cosigKeyHash(name, pub), seed)
}

// testKeys are the fixed keys of the test log and its witnesses.
type testKeys struct {
	log       note.Signer
	logV      note.Verifier
	witnesses []note.Signer
	witnessV  []note.Verifier
}

func newTestKeys(t testing.TB, nWitnesses int) *testKeys {
	t.Helper()
	k := &testKeys{}
	var err error
	if k.log, err = NewLogSigner(logSkey(testOrigin, seed("log"))); err != nil {
		t.Fatal(err)
	}
	if k.logV, err = NewLogVerifier(mustVkey(t, testOrigin, seed("log"))); err != nil {
		t.Fatal(err)
	}
	for i := range nWitnesses {
		name := fmt.Sprintf("witness.example/w%d", i+1)
		s, err := NewCosigner(cosignerSkey(name, seed(name)), func() time.Time { return testTime })
		if err != nil {
			t.Fatal(err)
		}
		v, err := NewCosignatureVerifier(cosignerVkey(s))
		if err != nil {
			t.Fatal(err)
		}
		k.witnesses, k.witnessV = append(k.witnesses, s), append(k.witnessV, v)
	}
	return k
}

// cosignerVkey writes the verifier key of a test cosigner.
func cosignerVkey(s note.Signer) string {
	c := s.(*cosigner)
	return encodeKey(c.name, c.hash, c.key.Public().(ed25519.PublicKey))
}

// sign signs c by the log and then cosigns it by the given witnesses.
func (k *testKeys) sign(t testing.TB, c Checkpoint, witnesses ...note.Signer) []byte {
	t.Helper()
	signed, err := Sign(c.Body(), k.log)
	if err != nil {
		t.Fatal(err)
	}
	return cosign(t, signed, witnesses...)
}

// cosign appends the witnesses' cosignature lines to a signed note.
func cosign(t testing.TB, signed []byte, witnesses ...note.Signer) []byte {
	t.Helper()
	text, _, err := splitNote(signed)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range witnesses {
		one, err := note.Sign(&note.Note{Text: string(text)}, w)
		if err != nil {
			t.Fatal(err)
		}
		signed = append(signed, one[len(text)+1:]...)
	}
	return signed
}

// memLog is a log kept in memory the way the server keeps it: leaves and
// the stored hashes of x/mod tlog.StoredHashes.
type memLog struct {
	leaves [][]byte
	hashes []Hash
}

func (m *memLog) ReadHashes(indexes []int64) ([]Hash, error) {
	out := make([]Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m.hashes)) {
			return nil, fmt.Errorf("no stored hash %d", x)
		}
		out[i] = m.hashes[x]
	}
	return out, nil
}

func (m *memLog) append(t testing.TB, leaf []byte) {
	t.Helper()
	hs, err := xtlog.StoredHashes(int64(len(m.leaves)), leaf, m)
	if err != nil {
		t.Fatal(err)
	}
	m.hashes = append(m.hashes, hs...)
	m.leaves = append(m.leaves, leaf)
}

// checkpoint returns the log's checkpoint at a size.
func (m *memLog) checkpoint(t testing.TB, size uint64) Checkpoint {
	t.Helper()
	root, err := xtlog.TreeHash(int64(size), m)
	if err != nil {
		t.Fatal(err)
	}
	return Checkpoint{Origin: testOrigin, Size: size, Root: root}
}

// newMemLog makes a log of n chain leaves of two accounts.
func newMemLog(t testing.TB, n int) *memLog {
	m := &memLog{}
	for i := range n {
		l := &ChainLeaf{Account: AccountID{byte(i % 2)}, Seq: uint64(i / 2), EntryHash: sha256.Sum256(fmt.Appendf(nil, "entry %d", i))}
		m.append(t, l.Marshal())
	}
	return m
}

// server serves a memLog's tiles and bundles at one tree size, as the
// Coffer server does, through the package's server-side helpers.
type server struct {
	m    *memLog
	size uint64
	// tamper, if set, may change what is served.
	tamper func(path string, b []byte) []byte
}

func (s *server) Tile(_ context.Context, path string) ([]byte, error) {
	t, err := ParseTilePath(path)
	if err != nil {
		return nil, err
	}
	var b []byte
	if t.L == entriesLevel {
		if err := CheckTile(t, s.size); err != nil {
			return nil, err
		}
		start := t.N * TileWidth
		b, err = MarshalBundle(s.m.leaves[start : start+int64(t.W)])
	} else {
		b, err = ReadTile(t, s.size, s.m)
	}
	if err == nil && s.tamper != nil {
		b = s.tamper(path, b)
	}
	return b, err
}

// proveTree is x/mod's consistency proof from old to size, as a []Hash.
func proveTree(m *memLog, size, old uint64) ([]Hash, error) {
	p, err := xtlog.ProveTree(int64(size), int64(old), m)
	return p, err
}

// mustVkey writes the verifier key of an Ed25519 log key from a seed.
func mustVkey(t testing.TB, origin string, seed []byte) string {
	t.Helper()
	v, err := note.NewEd25519VerifierKey(origin, ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return v
}
