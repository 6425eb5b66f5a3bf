package tlog

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

func TestParseBody(t *testing.T) {
	root := sha256.Sum256([]byte("root"))
	b64 := base64.StdEncoding.EncodeToString(root[:])
	empty := base64.StdEncoding.EncodeToString(emptyRoot[:])
	// A 32-byte value whose last base64 character carries nonzero padding bits.
	loose := b64[:len(b64)-2] + string(rune(b64[len(b64)-2]+1)) + "="
	tests := []struct {
		name string
		text string
		ok   bool
	}{
		{"valid", "example.com/log\n20852163\n" + b64 + "\n", true},
		{"empty tree", "example.com/log\n0\n" + empty + "\n", true},
		{"empty tree wrong root", "example.com/log\n0\n" + b64 + "\n", false},
		{"largest size", "example.com/log\n9223372036854775807\n" + b64 + "\n", true},
		{"size 2^63", "example.com/log\n9223372036854775808\n" + b64 + "\n", false},
		{"leading zero", "example.com/log\n020852163\n" + b64 + "\n", false},
		{"signed size", "example.com/log\n+5\n" + b64 + "\n", false},
		{"extension line", "example.com/log\n5\n" + b64 + "\nextension\n", false},
		{"no final newline", "example.com/log\n5\n" + b64, false},
		{"blank origin", "\n5\n" + b64 + "\n", false},
		{"origin with space", "example.com/a log\n5\n" + b64 + "\n", false},
		{"origin with plus", "example.com/a+log\n5\n" + b64 + "\n", false},
		{"origin too long", strings.Repeat("a", MaxOriginSize+1) + "\n5\n" + b64 + "\n", false},
		{"CRLF", "example.com/log\r\n5\r\n" + b64 + "\r\n", false},
		{"short hash", "example.com/log\n5\n" + base64.StdEncoding.EncodeToString(root[:31]) + "\n", false},
		{"unpadded hash", "example.com/log\n5\n" + strings.TrimRight(b64, "=") + "\n", false},
		{"loose padding bits", "example.com/log\n5\n" + loose + "\n", false},
		{"url base64", "example.com/log\n5\n" + base64.URLEncoding.EncodeToString([]byte{0xfb, 0xff, 0xbf, 31: 0}) + "\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseBody([]byte(tc.text))
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if string(c.Body()) != tc.text {
					t.Fatalf("re-encodes as %q", c.Body())
				}
				return
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, want ErrMalformed", err)
			}
		})
	}
}

func TestSignRefusesBadBody(t *testing.T) {
	k := newTestKeys(t, 0)
	if _, err := Sign([]byte("example.com/log\n5\nnot base64\n"), k.log); !errors.Is(err, ErrMalformed) {
		t.Fatalf("signed a malformed body: %v", err)
	}
}

func TestLogKeys(t *testing.T) {
	skey, vkey, err := GenerateLogKey(testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewLogSigner(skey + "\n")
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewLogVerifier(vkey + "\n")
	if err != nil {
		t.Fatal(err)
	}
	signed, err := Sign(Checkpoint{Origin: testOrigin, Size: 0, Root: emptyRoot}.Body(), s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(signed, note.VerifierList(v)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := GenerateLogKey("bad origin"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("made a key for an origin with a space: %v", err)
	}
	if _, err := NewLogSigner(vkey); err == nil || strings.Contains(err.Error(), vkey) {
		t.Fatalf("verifier key taken as signer key, or echoed: %v", err)
	}
	if _, err := NewLogSigner(skey[:len(skey)-4]); err == nil || strings.Contains(err.Error(), skey[20:]) {
		t.Fatalf("truncated signer key accepted, or echoed: %v", err)
	}
	_, cvkey, err := GenerateCosignerKey(testWitness)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewLogVerifier(cvkey); !errors.Is(err, ErrMalformed) {
		t.Fatalf("cosigner key taken as log key: %v", err)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true},
		{"1", 1, true},
		{"9223372036854775807", 1<<63 - 1, true},
		{"9223372036854775808", 0, false},
		{"00", 0, false},
		{"01", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{" 1", 0, false},
		{"1_0", 0, false},
		{"", 0, false},
	}
	for _, tc := range tests {
		got, err := ParseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v", tc.in, got, err)
		}
	}
}

func TestVerifyConsistencyProof(t *testing.T) {
	m := newMemLog(t, 20)
	c := m.checkpoint(t, 20)
	for _, old := range []uint64{1, 7, 8, 19, 20} {
		p, err := proveTree(m, 20, old)
		if err != nil {
			t.Fatal(err)
		}
		oc := m.checkpoint(t, old)
		if err := VerifyConsistencyProof(p, old, oc.Root, c); err != nil {
			t.Fatalf("%d→20: %v", old, err)
		}
		if len(p) > 0 {
			p[0][0] ^= 1
			if err := VerifyConsistencyProof(p, old, oc.Root, c); !errors.Is(err, ErrInconsistent) {
				t.Fatalf("%d→20 with a bad proof: %v", old, err)
			}
		}
		wrong := oc.Root
		wrong[31] ^= 1
		if err := VerifyConsistencyProof(nil, old, wrong, c); !errors.Is(err, ErrInconsistent) {
			t.Fatalf("%d→20 from a wrong root: %v", old, err)
		}
	}
	tests := []struct {
		name  string
		proof []Hash
		old   uint64
		ok    bool
	}{
		{"from empty", nil, 0, true},
		{"from empty with a proof", []Hash{{}}, 0, false},
		{"rollback", nil, 21, false},
	}
	for _, tc := range tests {
		if err := VerifyConsistencyProof(tc.proof, tc.old, Hash{}, c); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
