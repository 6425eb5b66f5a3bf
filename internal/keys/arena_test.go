package keys

import (
	"encoding/hex"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/argon2"
)

// TestKDFKnownAnswer checks that warming the arena changes neither the
// parameters nor the output of the keystore KDF: passphraseKey must give
// what the reference implementation of Argon2id gives (the argon2 command
// of phc-winner-argon2, Debian package argon2 0~20171227:
// `echo -n PASS | argon2 SALT -id -t T -k M -p P -l 32 -r`), and what
// golang.org/x/crypto/argon2 gives on its own.
func TestKDFKnownAnswer(t *testing.T) {
	for _, v := range []struct {
		p   KDFParams
		key string
	}{
		{DefaultKDFParams(), "751b486a19395987163fcffffd06ecf6cfd36ab0e8d51454ed80474bf9f347cd"},
		{KDFParams{Time: 1, MemoryKiB: 8, Threads: 1}, "f3ba4133c6ed523ddad55088c4f5d0f7ed0127a3813b346d3cb914c7e1def2c6"},
	} {
		pass, salt := []byte("correct horse battery staple"), []byte("coffer kdf salt!")
		if got := hex.EncodeToString(passphraseKey(pass, salt, v.p)); got != v.key {
			t.Errorf("%+v: passphraseKey gives %s, the reference %s", v.p, got, v.key)
		}
		plain := argon2.IDKey(pass, salt, v.p.Time, v.p.MemoryKiB, v.p.Threads, 32)
		if got := hex.EncodeToString(plain); got != v.key {
			t.Errorf("%+v: argon2.IDKey gives %s, the reference %s", v.p, got, v.key)
		}
	}
}

// TestArenaKiB checks the arena size against RFC 9106's rounding.
func TestArenaKiB(t *testing.T) {
	if got := arenaKiB(KDFParams{Time: 1, MemoryKiB: 1000, Threads: 3}); got != 996 {
		t.Errorf("arenaKiB(1000 KiB, 3 lanes) = %d, want 996", got)
	}
}

// TestPrewarm checks that a derivation takes the arena Prewarm made for its
// parameters, once, and never one made for others.
func TestPrewarm(t *testing.T) {
	p := KDFParams{Time: 1, MemoryKiB: warmMinKiB, Threads: 1}
	other := p
	other.Time = 2
	Prewarm(p)
	if a := takePrewarmed(other); a != nil {
		t.Error("an arena prewarmed for other parameters was taken")
	}
	if a := takePrewarmed(p); a != nil {
		t.Error("an arena was still kept after a derivation with other parameters")
	}
	Prewarm(p)
	if a := takePrewarmed(p); len(a) != int(arenaKiB(p))<<10 {
		t.Errorf("took a prewarmed arena of %d bytes, want %d", len(a), arenaKiB(p)<<10)
	}
	if a := takePrewarmed(p); a != nil {
		t.Error("a prewarmed arena was taken twice")
	}
	Prewarm(KDFParams{Time: 1, MemoryKiB: 64, Threads: 1})
	if a := takePrewarmed(KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}); a != nil {
		t.Error("an arena too small to matter was prewarmed")
	}
}

// TestPrewarmKeystore checks that PrewarmKeystore prewarms by the
// parameters of the keystore's header, and nothing without a keystore.
func TestPrewarmKeystore(t *testing.T) {
	p := KDFParams{Time: 1, MemoryKiB: warmMinKiB, Threads: 2}
	path := filepath.Join(t.TempDir(), "device.key")
	PrewarmKeystore(path)
	if a := takePrewarmed(p); a != nil {
		t.Error("an arena was prewarmed without a keystore")
	}
	if err := Save(path, testDevice, testPass, p); err != nil {
		t.Fatal(err)
	}
	PrewarmKeystore(path)
	if a := takePrewarmed(p); len(a) != int(arenaKiB(p))<<10 {
		t.Errorf("took a prewarmed arena of %d bytes, want %d", len(a), arenaKiB(p)<<10)
	}
}
