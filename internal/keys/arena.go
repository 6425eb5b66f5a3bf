package keys

import (
	"runtime"
	"sync"
)

// warmMinKiB is the smallest Argon2id memory worth warming: below it the
// page faults cost less than the collection warmArena runs.
const warmMinKiB = 4 << 10

// pageSize is the smallest page the kernel faults in.
const pageSize = 4 << 10

// arenaKiB returns the memory, in KiB, that Argon2id with p allocates:
// MemoryKiB rounded down to a multiple of 4×Threads blocks of 1 KiB, and
// at least 8×Threads (RFC 9106 §3.2; golang.org/x/crypto/argon2 does the
// same).
func arenaKiB(p KDFParams) uint32 {
	lanes := 4 * uint32(p.Threads)
	return max(p.MemoryKiB/lanes*lanes, 2*lanes)
}

// warmArena makes the arena that the next Argon2id derivation with p
// allocates cheap to use. golang.org/x/crypto/argon2 allocates its arena
// inside IDKey, fresh from the kernel, and its lanes then fault it in,
// 4 KiB at a time, from several threads at once (16 384 faults for
// 64 MiB, contending for the same page tables). warmArena instead
// allocates an arena of the same size itself, asks the kernel for
// transparent huge pages for it (advice only), writes one byte per page
// from this one thread, and frees it with a collection, so that the Go
// allocator hands the same, already mapped pages to IDKey, which zeroes
// them on one thread. The KDF's parameters, inputs and output do not
// change (TestKDFKnownAnswer); only where its memory comes from does. If
// the runtime hands IDKey other pages, the derivation is as before and
// only this warm-up was wasted.
func warmArena(p KDFParams) {
	a := takePrewarmed(p)
	if a == nil {
		a = newArena(p)
	}
	if a == nil {
		return // too small to matter
	}
	runtime.KeepAlive(a) // a is dead from here on: the collection frees it
	runtime.GC()
}

// newArena allocates the arena of a derivation with p, asks for huge
// pages for it and faults it in; nil if p's arena is too small to matter.
func newArena(p KDFParams) []byte {
	kib := arenaKiB(p)
	if kib < warmMinKiB {
		return nil
	}
	a := make([]byte, int(kib)<<10)
	adviseHugePages(a) // without THP, 4 KiB pages are faulted in below
	for i := 0; i < len(a); i += pageSize {
		a[i] = 1
	}
	return a
}

// prewarmed is the arena Prewarm is making, for warmArena to take.
var prewarmed struct {
	sync.Mutex
	p     KDFParams
	ready chan []byte // receives the arena once; nil: none under way
}

// Prewarm starts making, on a goroutine of its own, the arena that
// warmArena would make for p, for the next derivation with p to take. A
// command that will unlock a keystore calls it first thing
// (PrewarmKeystore): the runtime then has freed nothing yet, so the arena
// comes from pages never used, which it need not zero. Later, it may come
// from pages the collector freed, which the runtime zeroes before the
// huge-page advice applies (about 200 ms of 4 KiB faults in one run in
// four, in a VM). The arena's pages are faulted in while the command
// parses its flags and reads its passphrase. If nothing derives with p,
// the arena is only memory held until the process exits.
func Prewarm(p KDFParams) {
	if arenaKiB(p) < warmMinKiB {
		return
	}
	ready := make(chan []byte, 1)
	prewarmed.Lock()
	prewarmed.p, prewarmed.ready = p, ready
	prewarmed.Unlock()
	go func() { ready <- newArena(p) }()
}

// takePrewarmed returns the arena Prewarm made for p, waiting for it, or
// nil if there is none for p. Either way no prewarmed arena is kept after.
func takePrewarmed(p KDFParams) []byte {
	prewarmed.Lock()
	ready, same := prewarmed.ready, prewarmed.p == p
	prewarmed.ready = nil
	prewarmed.Unlock()
	if ready == nil {
		return nil
	}
	a := <-ready // waited for even if unused: it is not faulted in beside the derivation
	if !same {
		return nil // garbage from here on
	}
	return a
}

// PrewarmKeystore prewarms (Prewarm) the arena of the keystore at path,
// by the parameters its header states, which are bounded (KDFParams.Validate)
// but, like the rest of the header, authenticated only when the keystore
// is opened. It does nothing if there is no valid keystore there.
func PrewarmKeystore(path string) {
	if k, err := readKeystore(path); err == nil {
		Prewarm(k.kdf)
	}
}

// releaseArena frees the arena of a derivation with p that has just
// returned. Without it the dead arena stays counted in the heap until the
// collector's next cycle, which it pushes back by as much, and what the
// command allocates meanwhile (its index, its trees: tens of MiB) comes
// from pages fresh from the kernel, each a fault, instead of from the
// arena's pages, already mapped.
func releaseArena(p KDFParams) {
	if arenaKiB(p) >= warmMinKiB {
		runtime.GC()
	}
}
