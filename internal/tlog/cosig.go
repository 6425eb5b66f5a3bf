package tlog

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Cosignatures per C2SP tlog-cosignature, Ed25519 form (docs/transparency.md
// §T.2.3): signature type byte 0x04, and a signature that is an 8-byte
// big-endian timestamp followed by an Ed25519 signature of
// "cosignature/v1\ntime <T>\n" || checkpoint body.
const (
	cosigAlg    = 0x04
	cosigHeader = "cosignature/v1\ntime "
	// CosignatureSize is the size of a decoded cosignature after its key ID.
	CosignatureSize = 8 + ed25519.SignatureSize
	skeyPrefix      = "PRIVATE+KEY+"
)

// cosigner signs cosignatures; it implements note.Signer.
type cosigner struct {
	name string
	hash uint32
	key  ed25519.PrivateKey
	now  func() time.Time
}

// cosigVerifier checks cosignatures; it implements note.Verifier.
type cosigVerifier struct {
	name string
	hash uint32
	pub  ed25519.PublicKey
}

func (s *cosigner) Name() string         { return s.name }
func (s *cosigner) KeyHash() uint32      { return s.hash }
func (v *cosigVerifier) Name() string    { return v.name }
func (v *cosigVerifier) KeyHash() uint32 { return v.hash }

// Sign returns the timestamped cosignature of a checkpoint body, dated by
// the cosigner's clock.
func (s *cosigner) Sign(body []byte) ([]byte, error) {
	t := s.now().Unix()
	if t < 0 {
		return nil, fmt.Errorf("cosigner %s: clock before 1970", s.name)
	}
	sig := binary.BigEndian.AppendUint64(make([]byte, 0, CosignatureSize), uint64(t))
	return append(sig, ed25519.Sign(s.key, cosignedMessage(uint64(t), body))...), nil
}

// Verify reports whether sig is a cosignature of body by this key with a
// timestamp of at most 2⁶³−1.
func (v *cosigVerifier) Verify(body, sig []byte) bool {
	if len(sig) != CosignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig)
	return t <= math.MaxInt64 && ed25519.Verify(v.pub, cosignedMessage(t, body), sig[8:])
}

// cosignedMessage is the message an Ed25519 cosignature signs.
func cosignedMessage(t uint64, body []byte) []byte {
	m := strconv.AppendUint([]byte(cosigHeader), t, 10)
	return append(append(m, '\n'), body...)
}

// cosigKeyHash is SHA-256(name || "\n" || 0x04 || public key)[:4] as a
// big-endian integer.
func cosigKeyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.Sum256(append(append([]byte(name+"\n"), cosigAlg), pub...))
	return binary.BigEndian.Uint32(h[:4])
}

// encodeKey writes name+<8 hex key ID>+base64(0x04 || key).
func encodeKey(name string, hash uint32, key []byte) string {
	return fmt.Sprintf("%s+%08x+%s", name, hash, base64.StdEncoding.EncodeToString(append([]byte{cosigAlg}, key...)))
}

// decodeKey parses what encodeKey writes for a 32-byte key, returning the
// name, key ID and key without checking the ID.
func decodeKey(s string) (name string, hash uint32, key []byte, ok bool) {
	name, rest, _ := strings.Cut(s, "+")
	hash16, key64, _ := strings.Cut(rest, "+")
	h, err1 := strconv.ParseUint(hash16, 16, 32)
	raw, err2 := base64.StdEncoding.Strict().DecodeString(key64)
	if err1 != nil || err2 != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != cosigAlg || checkName(name) != nil {
		return "", 0, nil, false
	}
	return name, uint32(h), raw[1:], encodeKey(name, uint32(h), raw[1:]) == s
}

// GenerateCosignerKey makes a witness's Ed25519 cosigning key pair named
// name: skey "PRIVATE+KEY+<name>+<key ID>+<base64(0x04 || seed)>" is
// secret, vkey "<name>+<key ID>+<base64(0x04 || public key)>" public.
func GenerateCosignerKey(name string) (skey, vkey string, err error) {
	if err := checkName(name); err != nil {
		return "", "", fmt.Errorf("cosigner key: %w", err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("cosigner key: %w", err)
	}
	h := cosigKeyHash(name, pub)
	return skeyPrefix + encodeKey(name, h, priv.Seed()), encodeKey(name, h, pub), nil
}

// NewCosigner returns the note.Signer of a cosigner's secret key
// (GenerateCosignerKey's skey), dating its signatures by now (time.Now if
// nil). Its errors never contain the key.
func NewCosigner(skey string, now func() time.Time) (note.Signer, error) {
	rest, found := strings.CutPrefix(strings.TrimSpace(skey), skeyPrefix)
	name, hash, seed, ok := decodeKey(rest)
	if !found || !ok {
		return nil, fmt.Errorf("cosigner signing key is not a %q key of type 0x04: %w", skeyPrefix, ErrMalformed)
	}
	key := ed25519.NewKeyFromSeed(seed)
	if cosigKeyHash(name, key.Public().(ed25519.PublicKey)) != hash {
		return nil, fmt.Errorf("cosigner signing key %s: key ID does not match the key: %w", name, ErrMalformed)
	}
	if now == nil {
		now = time.Now
	}
	return &cosigner{name: name, hash: hash, key: key, now: now}, nil
}

// NewCosignatureVerifier parses a cosigner's verifier key (vkey of
// GenerateCosignerKey) into a note.Verifier of its cosignatures.
func NewCosignatureVerifier(vkey string) (note.Verifier, error) {
	vkey = strings.TrimSpace(vkey)
	name, hash, pub, ok := decodeKey(vkey)
	if !ok || cosigKeyHash(name, pub) != hash {
		return nil, fmt.Errorf("cosigner verifier key %.80q is not name+id+base64(0x04||key) with a matching id: %w", vkey, ErrMalformed)
	}
	return &cosigVerifier{name: name, hash: hash, pub: pub}, nil
}
