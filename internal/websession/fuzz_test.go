package websession

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/crypt"
)

// FuzzParseGrant checks that the grant parser never panics, and that a
// grant it accepts was signed and re-encodes to the same body.
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
	f.Add(append(append(body, pub...), ed25519.Sign(priv, crypt.AD(labelGrant, body))...))
	f.Add(body)
	f.Fuzz(func(t *testing.T, b []byte) {
		g, key, err := parseGrant(b)
		if err != nil {
			return
		}
		again, err := g.body()
		if err != nil || !bytes.Equal(again, b[:len(again)]) || !bytes.Equal(key, b[len(again):len(again)+32]) {
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
