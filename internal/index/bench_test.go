package index

import (
	"runtime"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/blob"
)

// Shape of the benchmark repositories: index objects of 1000 packs of 32
// blobs, about what backups with 1 MiB chunks in 32 MiB packs write.
const (
	benchBlobsPerPack = 32
	benchPacksPerFile = 1000
)

// buildMaster loads n blobs (rounded up to whole index objects) into a new
// Master, generating each object just before adding it as a loader would.
// It returns the IDs of blobs sampled every step-th, for lookups.
func buildMaster(n, step int) (*Master, []blob.ID) {
	ids := newIDSource(42)
	m := NewMaster()
	var sample []blob.ID
	for added := 0; added < n; {
		f := &File{Packs: make([]Pack, benchPacksPerFile)}
		for i := range f.Packs {
			f.Packs[i] = makePack(ids, benchBlobsPerPack)
			for _, b := range f.Packs[i].Blobs {
				if added%step == 0 {
					sample = append(sample, b.ID)
				}
				added++
			}
		}
		m.AddFile(f, true)
	}
	return m, sample
}

func BenchmarkLookup(b *testing.B) {
	m, hits := buildMaster(1<<20, 64)
	misses := make([]blob.ID, len(hits))
	src := newIDSource(43)
	for i := range misses {
		misses[i] = src.next()
	}
	for _, bc := range []struct {
		name  string
		ids   []blob.ID
		found bool
	}{{"hit", hits, true}, {"miss", misses, false}} {
		b.Run(bc.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, ok := m.Lookup(bc.ids[i%len(bc.ids)]); ok != bc.found {
						b.Errorf("Lookup found = %v, want %v", ok, bc.found)
						return
					}
					i++
				}
			})
		})
	}
}

// BenchmarkAddPack measures adding one freshly written pack to an index of
// a million blobs, as a backup does after every pack.
func BenchmarkAddPack(b *testing.B) {
	m, _ := buildMaster(1<<20, 1<<30)
	ids := newIDSource(44)
	packs := make([]Pack, b.N)
	for i := range packs {
		packs[i] = makePack(ids, benchBlobsPerPack)
	}
	b.ResetTimer()
	for i := range b.N {
		m.AddPack(packs[i])
	}
}

// BenchmarkMaster10M loads ten million blobs and reports the live heap per
// entry (everything Master holds: buckets, slack, pack table), the load
// time per entry (generating the index objects included) and the time of
// one Lookup at that size.
func BenchmarkMaster10M(b *testing.B) {
	const n = 10_000_000
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		m, sample := buildMaster(n, 10)
		elapsed := time.Since(start)
		runtime.GC()
		runtime.ReadMemStats(&after)
		held := after.HeapAlloc - before.HeapAlloc - uint64(len(sample)*blob.IDSize)
		b.ReportMetric(float64(held)/float64(m.Len()), "bytes/entry")
		b.ReportMetric(float64(elapsed.Nanoseconds())/float64(m.Len()), "ns-load/entry")
		start = time.Now()
		for _, id := range sample {
			if _, ok := m.Lookup(id); !ok {
				b.Fatalf("Lookup(%s) failed", id)
			}
		}
		b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(len(sample)), "ns/lookup")
		runtime.KeepAlive(m)
	}
}
