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
	return newGCM(k)
}

// goGCM returns Go's AES-256-GCM under key.
func goGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
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
	var sess [SessionSize]byte
	if _, err := rand.Read(sess[:]); err != nil {
		return fmt.Errorf("drawing session id: %w", err)
	}
	a, err := sessionAEAD(&s.master, sess[:])
	if err != nil {
		return err
	}
	s.sess, s.aead, s.count = sess, a, 0
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

// HeaderSize is the length of an envelope's session and nonce, which
// SealInPlace expects room for before the plaintext.
const HeaderSize = SessionSize + NonceSize

// SealInPlace seals buf[HeaderSize:] as Seal would, writing the envelope
// over buf itself: its session and nonce into buf[:HeaderSize] (whatever
// it held), the ciphertext over the plaintext, and the tag after it. It
// returns the envelope, which reuses buf's memory when buf has TagSize
// bytes of spare capacity. It saves Seal's copy of the plaintext into
// another buffer.
func (s *Sealer) SealInPlace(buf, ad []byte) ([]byte, error) {
	if len(buf) < HeaderSize {
		return nil, fmt.Errorf("sealing in place: %d bytes, less than the %d-byte header", len(buf), HeaderSize)
	}
	hdr, plaintext := buf[:HeaderSize], buf[HeaderSize:]
	aead, err := s.next(hdr)
	if err != nil {
		return nil, err
	}
	// dst = hdr: the ciphertext is appended at hdr's end, exactly where the
	// plaintext starts, the overlap cipher.AEAD allows.
	return aead.Seal(hdr, hdr[SessionSize:], plaintext, ad), nil
}

// Rekey makes the Sealer seal under another master key from now on, in a
// fresh session: a repository moving to a new root-key epoch seals its
// new data under the new epoch's data key (docs/format.md §2.6).
// Envelopes already sealed stay valid under the old key.
func (s *Sealer) Rekey(master *Key) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.master.Zero()
	s.master = *master
	return s.rekey()
}

// Zero forgets the master key. The Sealer must not be used afterwards.
func (s *Sealer) Zero() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.master.Zero()
	s.aead = nil
}

// Opener decrypts envelopes sealed under any of a list of master keys (one
// per root-key epoch, docs/format.md §2.6), whatever session sealed them.
// It remembers which key opened each session, so reading an old epoch's
// data costs a trial of the newer keys once per session, not per envelope.
// It is safe for concurrent use.
type Opener struct {
	mu      sync.Mutex
	masters []*Key // newest first; replaced, never changed in place, by Add
	cache   map[[SessionSize]byte]cipher.AEAD
}

// maxCachedSessions bounds the Opener's memory of session ciphers.
const maxCachedSessions = 256

// NewOpener returns an Opener under the given master keys, newest first.
func NewOpener(masters ...*Key) *Opener {
	o := &Opener{cache: make(map[[SessionSize]byte]cipher.AEAD)}
	for _, m := range masters {
		k := *m
		o.masters = append(o.masters, &k)
	}
	return o
}

// Add makes master the newest key, tried first for sessions not yet seen.
func (o *Opener) Add(master *Key) {
	k := *master
	o.mu.Lock()
	defer o.mu.Unlock()
	o.masters = append([]*Key{&k}, o.masters...)
}

// lookup returns the cached cipher of a session, or the keys to try.
func (o *Opener) lookup(sid [SessionSize]byte) (cipher.AEAD, []*Key) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.cache[sid], o.masters
}

func (o *Opener) remember(sid [SessionSize]byte, a cipher.AEAD) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.cache) >= maxCachedSessions {
		clear(o.cache)
	}
	o.cache[sid] = a
}

// Open authenticates and decrypts an envelope bound to ad, appending the
// plaintext to dst. It returns ErrAuth for anything that does not verify
// under any of the keys. dst may overlap the envelope's ciphertext, as
// with cipher.AEAD.
func (o *Opener) Open(dst, envelope, ad []byte) ([]byte, error) {
	if len(envelope) < Overhead {
		return nil, fmt.Errorf("envelope of %d bytes is shorter than its %d-byte overhead: %w", len(envelope), Overhead, ErrAuth)
	}
	sid := [SessionSize]byte(envelope)
	nonce, ct := envelope[SessionSize:SessionSize+NonceSize], envelope[SessionSize+NonceSize:]
	a, masters := o.lookup(sid)
	if a != nil {
		return openWith(a, dst, nonce, ct, ad)
	}
	for i, m := range masters {
		a, err := sessionAEAD(m, sid[:])
		if err != nil {
			return nil, err
		}
		var out []byte
		if i == len(masters)-1 {
			// The last key may decrypt in place: no other key will
			// need the ciphertext a failure overwrites.
			out, err = a.Open(dst, nonce, ct, ad)
		} else if out, err = a.Open(nil, nonce, ct, ad); err == nil {
			out = append(dst, out...)
		}
		if err == nil {
			o.remember(sid, a)
			return out, nil
		}
	}
	return nil, ErrAuth
}

func openWith(a cipher.AEAD, dst, nonce, ct, ad []byte) ([]byte, error) {
	out, err := a.Open(dst, nonce, ct, ad)
	if err != nil {
		return nil, ErrAuth
	}
	return out, nil
}

// Zero forgets the master keys and cached session ciphers.
func (o *Opener) Zero() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range o.masters {
		m.Zero()
	}
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
