package tlog

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// vectorSeeds returns the files of testdata/log/ and the leaves of the
// vector log, as fuzz seeds.
func vectorSeeds(f *testing.F) (checkpoint []byte, tiles map[string][]byte, leaves [][]byte) {
	f.Helper()
	checkpoint, err := os.ReadFile(filepath.Join(vectorsDir, "checkpoint"))
	if err != nil {
		f.Fatal(err)
	}
	tiles = map[string][]byte{}
	for _, p := range []string{"tile/0/000.p/3", "tile/0/000.p/5", "tile/entries/000.p/3", "tile/entries/000.p/5"} {
		if tiles[p], err = os.ReadFile(filepath.Join(vectorsDir, p)); err != nil {
			f.Fatal(err)
		}
	}
	ls, _ := vectorLeaves()
	for _, l := range ls {
		leaves = append(leaves, l.Marshal())
	}
	return checkpoint, tiles, leaves
}

// FuzzParseLeaf: whatever parses re-encodes to exactly the input.
func FuzzParseLeaf(f *testing.F) {
	_, _, leaves := vectorSeeds(f)
	for _, l := range leaves {
		f.Add(l)
		f.Add(l[:len(l)-1])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if l, err := ParseLeaf(b); err == nil && !bytes.Equal(l.Marshal(), b) {
			t.Fatal("re-encoding differs from the input")
		}
	})
}

// FuzzParseBody: whatever parses re-encodes to exactly the input.
func FuzzParseBody(f *testing.F) {
	cp, _, _ := vectorSeeds(f)
	body, _, _ := splitNote(cp)
	f.Add(body)
	f.Add(append(bytes.Clone(body), "ext\n"...))
	f.Add(cp)
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := ParseBody(b); err == nil && !bytes.Equal(c.Body(), b) {
			t.Fatal("re-encoding differs from the input")
		}
	})
}

// FuzzParseSize: whatever parses formats back to the input.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "5", "007", "9223372036854775807", "9223372036854775808", "-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := ParseSize(s); err == nil && strconv.FormatUint(n, 10) != s {
			t.Fatal("formats differently")
		}
	})
}

// FuzzParseTilePath: whatever parses formats back to the input and lies
// in some tree, or is refused by CheckTile without panicking.
func FuzzParseTilePath(f *testing.F) {
	_, tiles, _ := vectorSeeds(f)
	for p := range tiles {
		f.Add(p, uint64(5))
	}
	f.Add("tile/0/x001/x234/067", uint64(1)<<40)
	f.Add("tile/63/x009/x223/x372/x036/x854/x775/807.p/1", uint64(1)<<63-1)
	f.Fuzz(func(t *testing.T, p string, size uint64) {
		tile, err := ParseTilePath(p)
		if err != nil {
			return
		}
		if pathOf(tile) != p {
			t.Fatal("formats differently")
		}
		_ = CheckTile(tile, size)
	})
}

// FuzzParseBundle: whatever parses re-encodes to exactly the input.
func FuzzParseBundle(f *testing.F) {
	_, tiles, _ := vectorSeeds(f)
	f.Add(tiles["tile/entries/000.p/5"], 5)
	f.Add(tiles["tile/entries/000.p/3"], 3)
	f.Add(tiles["tile/entries/000.p/5"], 4)
	f.Fuzz(func(t *testing.T, b []byte, width int) {
		entries, err := ParseBundle(b, width)
		if err != nil {
			return
		}
		again, err := MarshalBundle(entries)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs from the input: %v", err)
		}
	})
}

// FuzzPolicyVerify: a hostile signed checkpoint never panics, and what is
// accepted has a body that parses and re-encodes.
func FuzzPolicyVerify(f *testing.F) {
	cp, _, _ := vectorSeeds(f)
	k := newTestKeys(f, 1)
	f.Add(cp)
	f.Add(bytes.Replace(cp, []byte("\n5\n"), []byte("\n6\n"), 1))
	f.Add(cp[:len(cp)-5])
	p := Policy{Log: k.logV, Witnesses: k.witnessV, Threshold: 1}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, names, err := p.Verify(b)
		if err != nil {
			return
		}
		n, err := note.Open(b, note.VerifierList(k.logV))
		if err != nil || !bytes.Equal(c.Body(), []byte(n.Text)) || len(names) != 1 {
			t.Fatalf("accepted %q: %v", b, err)
		}
	})
}

// FuzzNewCosignatureVerifier: whatever parses is the canonical text of
// its key.
func FuzzNewCosignatureVerifier(f *testing.F) {
	k := newTestKeys(f, 1)
	f.Add(cosignerVkey(k.witnesses[0]))
	f.Add(mustVkey(f, testOrigin, seed("log")))
	f.Fuzz(func(t *testing.T, s string) {
		v, err := NewCosignatureVerifier(s)
		if err != nil {
			return
		}
		c := v.(*cosigVerifier)
		if encodeKey(c.name, c.hash, c.pub) != strings.TrimSpace(s) {
			t.Fatal("re-encoding differs from the input")
		}
	})
}
