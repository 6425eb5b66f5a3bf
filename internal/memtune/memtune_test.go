package memtune

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestLimit(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct{ limit, live, want int64 }{
		{125 * mib, 0, 125 * mib},
		{125 * mib, 80 * mib, 125 * mib},
		{125 * mib, 100 * mib, 125 * mib},
		{125 * mib, 120 * mib, 150 * mib},
		{300 * mib, 100 * mib, 300 * mib}, // never lowered
	} {
		if got := Limit(tc.limit, tc.live); got != tc.want {
			t.Errorf("Limit(%d, %d) = %d, want %d", tc.limit, tc.live, got, tc.want)
		}
	}
}

// TestStartRaises holds live data past the base and checks that the limit
// rises above it, so the collector is not left running without pause.
func TestStartRaises(t *testing.T) {
	defer debug.SetMemoryLimit(math.MaxInt64)
	const base = 8 << 20
	stop := Start(base)
	defer stop()
	hold := make([]byte, 32<<20)
	for i := range hold {
		hold[i] = byte(i)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		runtime.GC()
		if debug.SetMemoryLimit(-1) >= int64(len(hold)) {
			runtime.KeepAlive(hold)
			return
		}
		time.Sleep(every)
	}
	t.Fatalf("limit still %d with %d bytes live", debug.SetMemoryLimit(-1), len(hold))
}
