package websession

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/crypt"
)

// FuzzParseGrant checks that the grant parser never panics and that a
// body it accepts re-encodes to the same bytes, and that verifyGrant
// accepts only the approver's signature.
func FuzzParseGrant(f *testing.F) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	g := &Grant{Account: "0123456789abcdef0123456789abcdef", SessionID: "00112233445566778899aabbccddeeff",
		NotBefore: time.Unix(1e9, 0).UTC(), NotAfter: time.Unix(1e9+3600, 0).UTC(), DataKeys: []crypt.Key{{1}, {2}}}
	body, err := g.body()
	if err != nil {
		f.Fatal(err)
	}
	signed := append(append(bytes.Clone(body), pub...), ed25519.Sign(priv, crypt.AD(labelGrant, body))...)
	if _, err := verifyGrant(signed, pub); err != nil {
		f.Fatal(err)
	}
	f.Add(body)
	f.Add(signed)
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := verifyGrant(b, pub); err == nil && !bytes.Equal(b, signed) {
			t.Fatalf("a grant %x the key never signed verifies", b)
		}
		g, err := parseGrant(b)
		if err != nil {
			return
		}
		if again, err := g.body(); err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted %x, re-encoded as %x (%v)", b, again, err)
		}
	})
}

// FuzzParseMessages checks that the offer, request and countersignature
// parsers never panic and bound what they accept.
func FuzzParseMessages(f *testing.F) {
	b, err := NewBrowser(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b.offer.Marshal())
	f.Add(Request{SignedPart: []byte{1, 12, 0}, Approver: make([]byte, 32), Sig: make([]byte, 64)}.Marshal())
	f.Fuzz(func(t *testing.T, m []byte) {
		if o, err := ParseOffer(m); err == nil && !bytes.Equal(o.Marshal(), m) {
			t.Fatalf("offer %x re-encoded as %x", m, o.Marshal())
		}
		if r, err := ParseRequest(m); err == nil && !bytes.Equal(r.Marshal(), m) {
			t.Fatalf("request %x re-encoded as %x", m, r.Marshal())
		}
		if _, err := ParseCountersign(m); err == nil && len(m) != 64 {
			t.Fatalf("countersignature of %d bytes", len(m))
		}
	})
}
