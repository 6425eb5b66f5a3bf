package tlog

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
)

func TestLeafRoundTrip(t *testing.T) {
	acct := AccountID{0xa1, 0xb2, 15: 0xff}
	tests := []struct {
		name string
		leaf Leaf
		size int
	}{
		{"chain", &ChainLeaf{Account: acct, Seq: 1<<63 + 7, EntryHash: sha256.Sum256([]byte("e"))}, ChainLeafSize},
		{"name", &NameLeaf{NameHash: NameHash("alice"), Account: acct, GenesisHash: sha256.Sum256([]byte("g"))}, NameLeafSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.leaf.Marshal()
			if len(b) != tc.size {
				t.Fatalf("%d bytes, want %d", len(b), tc.size)
			}
			got, err := ParseLeaf(b)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Marshal(), b) {
				t.Fatal("parsed leaf re-encodes differently")
			}
		})
	}
}

func TestParseLeafRefuses(t *testing.T) {
	chain := (&ChainLeaf{}).Marshal()
	name := (&NameLeaf{}).Marshal()
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"version only", []byte{1}},
		{"version 2", append([]byte{2}, chain[1:]...)},
		{"type 3", append([]byte{1, 3}, chain[2:]...)},
		{"chain short", chain[:len(chain)-1]},
		{"chain long", append(chain, 0)},
		{"name short", name[:len(name)-1]},
		{"chain type with name length", append([]byte{1, 1}, name[2:]...)},
		{"name type with chain length", append([]byte{1, 2}, chain[2:]...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseLeaf(tc.b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, want ErrMalformed", err)
			}
		})
	}
}

func TestNameHash(t *testing.T) {
	want := sha256.Sum256([]byte("coffer v1 account name\x00alice"))
	if NameHash("alice") != want {
		t.Fatal("NameHash differs from SHA-256 of label, NUL and name")
	}
	if NameHash("alice") == NameHash("alicf") {
		t.Fatal("distinct names hash alike")
	}
}

func TestParseAccountID(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"00112233445566778899aabbccddeeff", true},
		{"00112233445566778899AABBCCDDEEFF", false},
		{"00112233445566778899aabbccddee", false},
		{"00112233445566778899aabbccddeeff00", false},
		{"0011223344556677889zaabbccddeeff", false},
		{"", false},
	}
	for _, tc := range tests {
		id, err := ParseAccountID(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("%q: got %v", tc.in, err)
		}
		if tc.ok && id.String() != tc.in {
			t.Errorf("%q: String gives %q", tc.in, id.String())
		}
	}
}
