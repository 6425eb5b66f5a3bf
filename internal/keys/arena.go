package keys

import "runtime"

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
	kib := arenaKiB(p)
	if kib < warmMinKiB {
		return
	}
	a := make([]byte, int(kib)<<10)
	adviseHugePages(a) // without THP, 4 KiB pages are faulted in below
	for i := 0; i < len(a); i += pageSize {
		a[i] = 1
	}
	runtime.KeepAlive(a) // a is dead from here on: the collection frees it
	runtime.GC()
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
