package pairing

import (
	"bytes"
	"github.com/coffer-backup/coffer/internal/mailbox"
	"os"
	"path/filepath"
	"testing"
)

// seedFile adds the golden file name of testdata to f's corpus.
func seedFile(f *testing.F, name string) {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
}

// fuzzMessage checks that a message file's parser never panics and that
// whatever it accepts encodes back to the same bytes.
func fuzzMessage(f *testing.F, name string) {
	seedFile(f, name)
	f.Fuzz(func(t *testing.T, b []byte) {
		again, err := remarshal(name, b)
		if err == nil && !bytes.Equal(again, b) {
			t.Fatalf("accepted %x, re-encoded as %x", b, again)
		}
	})
}

func FuzzParseJoin(f *testing.F)        { fuzzMessage(f, "join.bin") }
func FuzzParseOffer(f *testing.F)       { fuzzMessage(f, "offer.bin") }
func FuzzParseCountersign(f *testing.F) { fuzzMessage(f, "countersign.bin") }
func FuzzParseDone(f *testing.F)        { fuzzMessage(f, "done.bin") }

// FuzzParseCode checks that an accepted code prints as a text that parses
// to the same code.
func FuzzParseCode(f *testing.F) {
	for _, v := range loadVectors(f).Codes {
		f.Add(v.Text)
	}
	f.Add("0000-0000-0000")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCode(s)
		if err != nil {
			return
		}
		again, err := ParseCode(c.String())
		if err != nil || again.String() != c.String() {
			t.Fatalf("%q: accepted, but its text %s does not parse back: %v", s, c, err)
		}
	})
}

// FuzzParseShareCode is FuzzParseCode for share codes.
func FuzzParseShareCode(f *testing.F) {
	for _, v := range loadVectors(f).ShareCodes {
		f.Add(v.Text)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseShareCode(s)
		if err != nil {
			return
		}
		again, err := ParseShareCode(c.String())
		if err != nil || *again != *c {
			t.Fatalf("%q: accepted, but its text does not parse back: %v", s, err)
		}
	})
}

// FuzzOpen checks that Open never panics and accepts only what seals under
// the vectors' code, re-sealing what it accepts under the same nonce.
func FuzzOpen(f *testing.F) {
	v := loadVectors(f)
	c := codeOf(f, v.Seals[0].Code)
	for _, s := range v.Seals {
		f.Add(s.Slot, unhex(f, s.Sealed))
	}
	f.Fuzz(func(t *testing.T, slot byte, sealed []byte) {
		msg, err := c.Open(slot, sealed)
		if err != nil {
			return
		}
		again, err := c.SealWithNonce(slot, msg, sealed[:mailbox.NonceSize])
		if err != nil || !bytes.Equal(again, sealed) {
			t.Fatalf("opened, but re-sealing differs: %v", err)
		}
	})
}
