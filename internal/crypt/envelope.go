package crypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"
)

// Envelope layout (docs/format.md §2.2):
//
//	session id (16) || nonce (12) || AES-256-GCM ciphertext || tag (16)
//
// The GCM key is HKDF-SHA-256(ikm = master key, salt = session id,
// info = "coffer v1 envelope session key"). Every Sealer draws a fresh random
// 128-bit session id, so it encrypts under its own key; within a Sealer the
// nonce is a 96-bit counter (four zero bytes, then a big-endian 64-bit
// count) that only ever increases. A nonce therefore repeats under one key
// only if two Sealers draw the same session id: probability below 2^-64
// even after 2^32 sessions. A Sealer moves to a fresh session long before its
// counter could wrap.
const (
	SessionSize  = 16
	NonceSize    = 12
	TagSize      = 16
	Overhead     = SessionSize + NonceSize + TagSize
	labelSession = "coffer v1 envelope session key"
	// maxPerSession bounds the messages sealed under one session key, far
	// below the 2^64 the counter could count.
	maxPerSession = 1 << 40
)

func sessionAEAD(master *Key, session []byte) (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, master[:], session, labelSession, KeySize)
	if err != nil {
		return nil, fmt.Errorf("deriving session key: %w", err)
	}
	defer clear(k)
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("session cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

// Sealer encrypts with the envelope construction. It is safe for concurrent
// use and never reuses a nonce.
type Sealer struct {
	master Key
	mu     sync.Mutex
	sess   [SessionSize]byte
	aead   cipher.AEAD
	count  uint64
}

// NewSealer returns a Sealer under the given master key, with a fresh
// random session.
func NewSealer(master *Key) (*Sealer, error) {
	s := &Sealer{master: *master}
	if err := s.rekey(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Sealer) rekey() error {
	if _, err := rand.Read(s.sess[:]); err != nil {
		return fmt.Errorf("drawing session id: %w", err)
	}
	a, err := sessionAEAD(&s.master, s.sess[:])
	if err != nil {
		return err
	}
	s.aead, s.count = a, 0
	return nil
}

// next reserves a unique (session, nonce) pair.
func (s *Sealer) next(hdr []byte) (cipher.AEAD, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.count >= maxPerSession {
		if err := s.rekey(); err != nil {
			return nil, err
		}
	}
	copy(hdr, s.sess[:])
	clear(hdr[SessionSize : SessionSize+4])
	binary.BigEndian.PutUint64(hdr[SessionSize+4:], s.count)
	s.count++
	return s.aead, nil
}

// Seal appends the envelope of plaintext, bound to the associated data ad,
// to dst and returns the extended slice.
func (s *Sealer) Seal(dst, plaintext, ad []byte) ([]byte, error) {
	n := len(dst)
	dst = append(dst, make([]byte, SessionSize+NonceSize)...)
	hdr := dst[n:]
	aead, err := s.next(hdr)
	if err != nil {
		return nil, err
	}
	return aead.Seal(dst, hdr[SessionSize:], plaintext, ad), nil
}

// Zero forgets the master key. The Sealer must not be used afterwards.
func (s *Sealer) Zero() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.master.Zero()
	s.aead = nil
}

// Opener decrypts envelopes sealed under one master key, whatever session
// sealed them. It is safe for concurrent use.
type Opener struct {
	master Key
	mu     sync.Mutex
	cache  map[[SessionSize]byte]cipher.AEAD
}

// maxCachedSessions bounds the Opener's memory of session ciphers.
const maxCachedSessions = 256

// NewOpener returns an Opener under the given master key.
func NewOpener(master *Key) *Opener {
	return &Opener{master: *master, cache: make(map[[SessionSize]byte]cipher.AEAD)}
}

func (o *Opener) aead(session []byte) (cipher.AEAD, error) {
	var sid [SessionSize]byte
	copy(sid[:], session)
	o.mu.Lock()
	defer o.mu.Unlock()
	if a, ok := o.cache[sid]; ok {
		return a, nil
	}
	a, err := sessionAEAD(&o.master, sid[:])
	if err != nil {
		return nil, err
	}
	if len(o.cache) >= maxCachedSessions {
		clear(o.cache)
	}
	o.cache[sid] = a
	return a, nil
}

// Open authenticates and decrypts an envelope bound to ad, appending the
// plaintext to dst. It returns ErrAuth for anything that does not verify.
func (o *Opener) Open(dst, envelope, ad []byte) ([]byte, error) {
	if len(envelope) < Overhead {
		return nil, fmt.Errorf("envelope of %d bytes is shorter than its %d-byte overhead: %w", len(envelope), Overhead, ErrAuth)
	}
	a, err := o.aead(envelope[:SessionSize])
	if err != nil {
		return nil, err
	}
	out, err := a.Open(dst, envelope[SessionSize:SessionSize+NonceSize], envelope[SessionSize+NonceSize:], ad)
	if err != nil {
		return nil, ErrAuth
	}
	return out, nil
}

// Zero forgets the master key and cached session ciphers.
func (o *Opener) Zero() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.master.Zero()
	clear(o.cache)
}

// Associated data (docs/format.md §2.2): every envelope is bound to the kind
// of object it holds and, where the object has one before it is sealed, to
// its identity.
const (
	ADBlobData   = "coffer v1 blob data"
	ADBlobTree   = "coffer v1 blob tree"
	ADPackHeader = "coffer v1 pack header"
	ADIndex      = "coffer v1 index"
	ADSnapshot   = "coffer v1 snapshot"
	ADConfig     = "coffer v1 config"
	ADPrune      = "coffer v1 prune plan"
	ADSession    = "coffer v1 session"
)

// AD returns the associated data label || 0x00 || identity.
func AD(label string, identity []byte) []byte {
	ad := make([]byte, 0, len(label)+1+len(identity))
	ad = append(ad, label...)
	ad = append(ad, 0)
	return append(ad, identity...)
}
