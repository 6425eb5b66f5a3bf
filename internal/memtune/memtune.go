// Package memtune sets the Go runtime's soft memory limit for a command so
// that a backup of an ordinary tree peaks low (issue 10: under 150 MiB),
// without letting the limit starve a command whose live data is large: a
// soft limit below the live heap makes the collector run almost without
// pause (the runtime caps it at half the CPU), so the limit is raised
// whenever the live heap comes near it.
package memtune

import (
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Headroom is how far above the live heap the limit is kept: the limit is
// never below live × Headroom once the live heap has grown past
// base / Headroom (the heap target of GOGC=25 is the same 1.25 × live).
const Headroom = 1.25

// every is how often the live heap is sampled.
const every = 250 * time.Millisecond

// Start sets the soft memory limit to base and keeps it at
// max(base, live heap × Headroom) until stop is called. It only ever
// raises the limit.
func Start(base int64) (stop func()) {
	debug.SetMemoryLimit(base)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		limit := base
		for {
			select {
			case <-done:
				return
			case <-t.C:
				limit = Adjust(limit, liveHeap())
			}
		}
	}()
	return func() { close(done) }
}

// Adjust returns the limit to set given the current one and the live heap,
// setting it in the runtime when it changes.
func Adjust(limit, live int64) int64 {
	want := Limit(limit, live)
	if want != limit {
		debug.SetMemoryLimit(want)
	}
	return want
}

// Limit returns max(limit, live × Headroom).
func Limit(limit, live int64) int64 {
	return max(limit, int64(float64(live)*Headroom))
}

// liveHeap returns the bytes of heap the last collection found live.
func liveHeap() int64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}
