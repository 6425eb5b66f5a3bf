package keys

import (
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/sys/unix"
)

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
}

func minorFaults(t *testing.T) int64 {
	t.Helper()
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return ru.Minflt
}

// TestArenaReleased checks that what is allocated after a derivation gets
// the pages of its arena, already mapped, rather than pages fresh from the
// kernel: 32 MiB written after passphraseKey fault a few pages, not the
// 8 192 of fresh memory. (Not parallel: the count is the process's.)
func TestArenaReleased(t *testing.T) {
	if testing.Short() {
		t.Skip("derives a key with the default parameters")
	}
	if raceEnabled {
		t.Skip("the race detector's shadow memory faults pages of its own; run without -race")
	}
	passphraseKey(testPass, make([]byte, saltSize), DefaultKDFParams())
	before := minorFaults(t)
	b := make([]byte, 32<<20)
	for i := 0; i < len(b); i += pageSize {
		b[i] = 1
	}
	if n := minorFaults(t) - before; n > 2048 {
		t.Errorf("32 MiB allocated after a derivation faulted %d pages: the arena was not freed for reuse", n)
	}
}
