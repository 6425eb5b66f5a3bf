package keys

import (
	"encoding/hex"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/sys/unix"
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

// TestWarmArenaReused checks that the derivation after warmArena uses the
// pages warmArena faulted in: it may fault a few pages of its own, not
// the 16 384 of a fresh 64 MiB arena. (Not parallel: the count is the
// process's.)
func TestWarmArenaReused(t *testing.T) {
	if testing.Short() {
		t.Skip("derives a key with the default parameters")
	}
	if raceEnabled {
		t.Skip("the race detector's shadow memory faults pages of its own; run without -race")
	}
	p := DefaultKDFParams()
	warmArena(p)
	before := minorFaults(t)
	argon2.IDKey(testPass, make([]byte, saltSize), p.Time, p.MemoryKiB, p.Threads, 32)
	if n := minorFaults(t) - before; n > 2048 {
		t.Errorf("the derivation after warmArena faulted %d pages: it did not get the warmed arena", n)
	}
	if got := arenaKiB(KDFParams{Time: 1, MemoryKiB: 1000, Threads: 3}); got != 996 {
		t.Errorf("arenaKiB(1000 KiB, 3 lanes) = %d, want 996", got)
	}
}

func minorFaults(t *testing.T) int64 {
	t.Helper()
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return ru.Minflt
}
