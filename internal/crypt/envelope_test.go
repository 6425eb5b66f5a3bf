package crypt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"sync"
	"testing"
)

var testMaster = Key{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}

func newSealer(t testing.TB) *Sealer {
	t.Helper()
	s, err := NewSealer(&testMaster)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func seal(t testing.TB, s *Sealer, pt, ad []byte) []byte {
	t.Helper()
	env, err := s.Seal(nil, pt, ad)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// TestNonceUnique seals from many goroutines through two Sealers and checks
// that no (session, nonce) pair repeats, that the two Sealers drew
// different sessions, and that each Sealer's counters are exactly 0..n-1.
func TestNonceUnique(t *testing.T) {
	const workers, each = 16, 200
	sealers := []*Sealer{newSealer(t), newSealer(t)}
	var (
		mu   sync.Mutex
		seen = make(map[[SessionSize + NonceSize]byte]bool)
		wg   sync.WaitGroup
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := sealers[w%2]
			for i := range each {
				env, err := s.Seal(nil, []byte{byte(i)}, nil)
				if err != nil {
					t.Error(err)
					return
				}
				k := [SessionSize + NonceSize]byte(env)
				mu.Lock()
				if seen[k] {
					t.Errorf("(session, nonce) %x sealed twice", k)
				}
				seen[k] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// Distinct pairs, each counter below the messages its Sealer sealed,
	// and two sessions: so each Sealer used exactly the counters 0..n-1.
	const n = workers / 2 * each
	if len(seen) != workers*each {
		t.Fatalf("%d distinct pairs for %d messages", len(seen), workers*each)
	}
	sessions := make(map[[SessionSize]byte]bool)
	for k := range seen {
		sess := [SessionSize]byte(k[:SessionSize])
		if !bytes.Equal(k[SessionSize:SessionSize+4], []byte{0, 0, 0, 0}) {
			t.Fatalf("nonce %x does not start with four zero bytes", k[SessionSize:])
		}
		if c := binary.BigEndian.Uint64(k[SessionSize+4:]); c >= n {
			t.Fatalf("counter %d beyond the %d messages sealed", c, n)
		}
		sessions[sess] = true
	}
	if len(sessions) != 2 {
		t.Fatalf("%d sessions for two Sealers", len(sessions))
	}
}

// TestSealerRekeys checks that a Sealer whose counter reaches
// maxPerSession moves to a fresh session with a counter from zero, long
// before the 64-bit counter could wrap.
func TestSealerRekeys(t *testing.T) {
	s := newSealer(t)
	o := NewOpener(&testMaster)
	first := seal(t, s, []byte("a"), nil)
	s.count = maxPerSession - 1
	last := seal(t, s, []byte("b"), nil)
	next := seal(t, s, []byte("c"), nil)
	if !bytes.Equal(first[:SessionSize], last[:SessionSize]) {
		t.Fatal("session changed before the limit")
	}
	if binary.BigEndian.Uint64(last[SessionSize+4:]) != maxPerSession-1 {
		t.Fatalf("last nonce of the session is %x", last[SessionSize:SessionSize+NonceSize])
	}
	if bytes.Equal(next[:SessionSize], last[:SessionSize]) {
		t.Fatal("no new session after maxPerSession messages")
	}
	if binary.BigEndian.Uint64(next[SessionSize+4:]) != 0 {
		t.Fatalf("first nonce of the new session is %x", next[SessionSize:SessionSize+NonceSize])
	}
	for _, env := range [][]byte{first, last, next} {
		if _, err := o.Open(nil, env, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTamper alters an envelope in every way a store could and expects
// ErrAuth each time, never a panic.
func TestTamper(t *testing.T) {
	s := newSealer(t)
	id := bytes.Repeat([]byte{0xab}, 32)
	ad := AD(ADBlobData, id)
	env := seal(t, s, []byte("some plaintext of a blob"), ad)
	other := seal(t, s, []byte("another plaintext, same session"), ad)
	o := NewOpener(&testMaster)
	if _, err := o.Open(nil, env, ad); err != nil {
		t.Fatalf("untouched envelope: %v", err)
	}
	type tc struct {
		name string
		env  []byte
		ad   []byte
		key  *Key
	}
	var cases []tc
	for i := range env {
		b := bytes.Clone(env)
		b[i] ^= 0x80
		cases = append(cases, tc{name: "flip byte", env: b, ad: ad})
	}
	for n := range len(env) {
		cases = append(cases, tc{name: "truncated", env: env[:n], ad: ad})
	}
	idOther := bytes.Clone(id)
	idOther[31] ^= 1
	cases = append(cases,
		tc{name: "appended byte", env: append(bytes.Clone(env), 0), ad: ad},
		tc{name: "other type", env: env, ad: AD(ADBlobTree, id)},
		tc{name: "other identity", env: env, ad: AD(ADBlobData, idOther)},
		tc{name: "no identity", env: env, ad: AD(ADBlobData, nil)},
		tc{name: "nil AD", env: env, ad: nil},
		tc{name: "other key", env: env, ad: ad, key: &Key{1}},
		tc{name: "header of another envelope", env: append(bytes.Clone(other[:SessionSize+NonceSize]), env[SessionSize+NonceSize:]...), ad: ad},
		tc{name: "other session", env: append(make([]byte, SessionSize), env[SessionSize:]...), ad: ad},
	)
	for _, c := range cases {
		op := o
		if c.key != nil {
			op = NewOpener(c.key)
		}
		pt, err := op.Open(nil, c.env, c.ad)
		if !errors.Is(err, ErrAuth) || pt != nil {
			t.Errorf("%s (%d bytes): got %q, %v; want ErrAuth", c.name, len(c.env), pt, err)
		}
	}
}

// TestOpenerManySessions opens envelopes of more sessions than the Opener
// caches, twice over, and checks the cache stays bounded.
func TestOpenerManySessions(t *testing.T) {
	o := NewOpener(&testMaster)
	var envs [][]byte
	for range maxCachedSessions + 10 {
		envs = append(envs, seal(t, newSealer(t), []byte("x"), nil))
	}
	for range 2 {
		for _, env := range envs {
			if _, err := o.Open(nil, env, nil); err != nil {
				t.Fatal(err)
			}
			if len(o.cache) > maxCachedSessions {
				t.Fatalf("cache holds %d sessions", len(o.cache))
			}
		}
	}
}

func TestZeroForgetsKeys(t *testing.T) {
	s := newSealer(t)
	o := NewOpener(&testMaster)
	env := seal(t, s, []byte("x"), nil)
	if _, err := o.Open(nil, env, nil); err != nil {
		t.Fatal(err)
	}
	s.Zero()
	o.Zero()
	if !s.master.Equal(&Key{}) || !o.masters[0].Equal(&Key{}) || len(o.cache) != 0 {
		t.Fatal("Zero left key material")
	}
	if _, err := o.Open(nil, env, nil); !errors.Is(err, ErrAuth) {
		t.Fatalf("zeroed Opener still opens: %v", err)
	}
}

// TestOpenerEpochs opens envelopes sealed under three keys with an Opener
// holding two of them then, after Add, all three: each opens exactly when
// its key is held, also in place, and a session is cached only once one
// of the keys has authenticated it.
func TestOpenerEpochs(t *testing.T) {
	keys := []Key{{0: 1}, {0: 2}, {0: 3}}
	var envs [][]byte
	for i := range keys {
		s, err := NewSealer(&keys[i])
		if err != nil {
			t.Fatal(err)
		}
		envs = append(envs, seal(t, s, []byte{byte(i)}, []byte("ad")))
	}
	o := NewOpener(&keys[1], &keys[0])
	for _, c := range []struct {
		name    string
		add     *Key
		opens   []bool
		inPlace bool
	}{
		{"two keys", nil, []bool{true, true, false}, false},
		{"two keys, cached", nil, []bool{true, true, false}, true},
		{"three keys", &keys[2], []bool{true, true, true}, true},
	} {
		if c.add != nil {
			o.Add(c.add)
		}
		for i, env := range envs {
			env = bytes.Clone(env)
			var dst []byte
			if c.inPlace {
				dst = env[SessionSize+NonceSize:][:0]
			}
			pt, err := o.Open(dst, env, []byte("ad"))
			if c.opens[i] != (err == nil) || (err == nil && !bytes.Equal(pt, []byte{byte(i)})) {
				t.Errorf("%s: envelope %d: %x, %v", c.name, i, pt, err)
			}
			if err != nil && !errors.Is(err, ErrAuth) {
				t.Errorf("%s: envelope %d: %v does not wrap ErrAuth", c.name, i, err)
			}
			if _, cached := o.cache[[SessionSize]byte(env)]; cached != c.opens[i] {
				t.Errorf("%s: envelope %d: cached %v", c.name, i, cached)
			}
		}
	}
	if _, err := o.Open(nil, envs[0], []byte("other ad")); !errors.Is(err, ErrAuth) {
		t.Errorf("cached session opened with other associated data: %v", err)
	}
}

// TestSealerRekey moves a Sealer to another key: later envelopes are in a
// new session under the new key only, earlier ones stay under the old.
func TestSealerRekey(t *testing.T) {
	s := newSealer(t)
	before := seal(t, s, []byte("before"), nil)
	next := Key{0: 9}
	if err := s.Rekey(&next); err != nil {
		t.Fatal(err)
	}
	after := seal(t, s, []byte("after"), nil)
	if bytes.Equal(before[:SessionSize], after[:SessionSize]) {
		t.Fatal("Rekey kept the session")
	}
	oldOnly, newOnly := NewOpener(&testMaster), NewOpener(&next)
	for _, c := range []struct {
		name string
		o    *Opener
		env  []byte
		want bool
	}{
		{"old key, earlier envelope", oldOnly, before, true},
		{"old key, later envelope", oldOnly, after, false},
		{"new key, earlier envelope", newOnly, before, false},
		{"new key, later envelope", newOnly, after, true},
	} {
		if _, err := c.o.Open(nil, c.env, nil); (err == nil) != c.want {
			t.Errorf("%s: %v, want success %v", c.name, err, c.want)
		}
	}
}

// FuzzOpen feeds arbitrary envelopes to Open. It must never panic; when
// it succeeds, sealing the plaintext again with the envelope's own session
// and nonce (the independent construction) must give the envelope back.
func FuzzOpen(f *testing.F) {
	s := newSealer(f)
	for _, pt := range []string{"", "x", "a longer plaintext that spans more than one AES block"} {
		f.Add(seal(f, s, []byte(pt), AD(ADIndex, nil)), AD(ADIndex, nil))
	}
	f.Add(seal(f, s, []byte("blob"), AD(ADBlobData, make([]byte, 32))), AD(ADBlobData, make([]byte, 32)))
	f.Add(make([]byte, Overhead), []byte{})
	f.Add([]byte{1, 2, 3}, []byte("ad"))
	o := NewOpener(&testMaster)
	f.Fuzz(func(t *testing.T, env, ad []byte) {
		pt, err := o.Open(nil, env, ad)
		if err != nil {
			if !errors.Is(err, ErrAuth) {
				t.Fatalf("error %v does not wrap ErrAuth", err)
			}
			return
		}
		again := sealIndependently(t, testMaster[:], env[:SessionSize], binary.BigEndian.Uint64(env[SessionSize+4:]), pt, ad)
		if !bytes.Equal(again, env) {
			t.Fatalf("opened %x but re-sealing gives %x", env, again)
		}
	})
}

// TestSealInPlace: an envelope sealed in place opens as one from Seal
// does, to the same plaintext, in the caller's memory when it has room
// for the tag; a buffer shorter than the header is refused.
func TestSealInPlace(t *testing.T) {
	var k Key
	s, err := NewSealer(&k)
	if err != nil {
		t.Fatal(err)
	}
	o := NewOpener(&k)
	ad := AD(ADBlobData, []byte("id"))
	for _, n := range []int{0, 1, 100, 1 << 20} {
		plain := bytes.Repeat([]byte{7}, n)
		buf := make([]byte, HeaderSize, HeaderSize+n+TagSize)
		buf = append(buf, plain...)
		env, err := s.SealInPlace(buf, ad)
		if err != nil {
			t.Fatal(err)
		}
		if len(env) != n+Overhead || &env[0] != &buf[0] {
			t.Errorf("%d bytes: envelope of %d bytes, in place %v", n, len(env), &env[0] == &buf[0])
		}
		got, err := o.Open(nil, env, ad)
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("%d bytes: opens to %d bytes, %v", n, len(got), err)
		}
	}
	if _, err := s.SealInPlace(make([]byte, HeaderSize-1), ad); err == nil {
		t.Error("sealed a buffer shorter than the header")
	}
}
