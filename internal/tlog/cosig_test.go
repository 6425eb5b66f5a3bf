package tlog

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// TestCosignatureIndependent checks a cosignature with crypto/ed25519 and
// the message and key ID written out by hand from C2SP tlog-cosignature.
func TestCosignatureIndependent(t *testing.T) {
	k := newTestKeys(t, 1)
	body := []byte("example.com/log\n5\n" + base64.StdEncoding.EncodeToString(make([]byte, 32)) + "\n")
	sig, err := k.witnesses[0].Sign(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(sig) != 72 || binary.BigEndian.Uint64(sig) != 1700000000 {
		t.Fatalf("signature of %d bytes with time %d", len(sig), binary.BigEndian.Uint64(sig))
	}
	pub := ed25519.NewKeyFromSeed(seed(testWitness)).Public().(ed25519.PublicKey)
	msg := "cosignature/v1\ntime 1700000000\n" + string(body)
	if !ed25519.Verify(pub, []byte(msg), sig[8:]) {
		t.Fatal("Ed25519 signature does not verify over the C2SP message")
	}
	id := sha256.Sum256([]byte(testWitness + "\n\x04" + string(pub)))
	if k.witnesses[0].KeyHash() != binary.BigEndian.Uint32(id[:4]) {
		t.Fatal("key ID is not SHA-256(name || \\n || 0x04 || key)[:4]")
	}
}

func TestCosignatureVerify(t *testing.T) {
	k := newTestKeys(t, 2)
	body := []byte("example.com/log\n5\n" + base64.StdEncoding.EncodeToString(make([]byte, 32)) + "\n")
	sig, err := k.witnesses[0].Sign(body)
	if err != nil {
		t.Fatal(err)
	}
	future := append(binary.BigEndian.AppendUint64(nil, math.MaxInt64+1),
		ed25519.Sign(ed25519.NewKeyFromSeed(seed(testWitness)), cosignedMessage(math.MaxInt64+1, body))...)
	retimed := append([]byte(nil), sig...)
	retimed[7]++
	tests := []struct {
		name string
		v    note.Verifier
		body []byte
		sig  []byte
		ok   bool
	}{
		{"valid", k.witnessV[0], body, sig, true},
		{"other witness", k.witnessV[1], body, sig, false},
		{"other body", k.witnessV[0], append([]byte("x"), body...), sig, false},
		{"changed time", k.witnessV[0], body, retimed, false},
		{"short", k.witnessV[0], body, sig[:71], false},
		{"time beyond 2^63-1", k.witnessV[0], body, future, false},
	}
	for _, tc := range tests {
		if got := tc.v.Verify(tc.body, tc.sig); got != tc.ok {
			t.Errorf("%s: Verify = %v", tc.name, got)
		}
	}
}

func TestCosignerClockBefore1970(t *testing.T) {
	s, err := NewCosigner(cosignerSkey(testWitness, seed(testWitness)), func() time.Time { return time.Unix(-1, 0) })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sign([]byte("x\n")); err == nil {
		t.Fatal("cosigned with a negative timestamp")
	}
}

func TestCosignerKeys(t *testing.T) {
	skey, vkey, err := GenerateCosignerKey(testWitness)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewCosigner(skey+"\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewCosignatureVerifier(vkey + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != testWitness || v.Name() != testWitness || s.KeyHash() != v.KeyHash() {
		t.Fatal("signer and verifier disagree on name or key ID")
	}
	sig, err := s.Sign([]byte("x\n"))
	if err != nil || !v.Verify([]byte("x\n"), sig) {
		t.Fatalf("generated pair does not verify: %v", err)
	}
	_, logVkey, err := GenerateLogKey(testWitness)
	if err != nil {
		t.Fatal(err)
	}
	name, rest, _ := strings.Cut(vkey, "+")
	id, key, _ := strings.Cut(rest, "+")
	refuse := []struct {
		name, vkey string
	}{
		{"log key (type 0x01)", logVkey},
		{"other name", "witness.example/w2+" + rest},
		{"upper-case key ID", name + "+" + strings.ToUpper(id) + "+" + key},
		{"short key ID", name + "+" + id[1:] + "+" + key},
		{"short key", name + "+" + id + "+" + base64.StdEncoding.EncodeToString(make([]byte, 32))},
		{"junk after", vkey + "+x"},
		{"empty", ""},
		{"secret key", skey},
	}
	for _, tc := range refuse {
		if _, err := NewCosignatureVerifier(tc.vkey); !errors.Is(err, ErrMalformed) {
			t.Errorf("verifier key %s: got %v", tc.name, err)
		}
	}
	for _, bad := range []string{vkey, "PRIVATE+KEY+" + name + "+00000000+" + strings.TrimPrefix(skey, "PRIVATE+KEY+"+name+"+"+id+"+"), skey[:len(skey)-8]} {
		_, err := NewCosigner(bad, nil)
		if !errors.Is(err, ErrMalformed) || strings.Contains(err.Error(), skey[len(skey)-20:]) {
			t.Errorf("bad signer key: got %v", err)
		}
	}
}
