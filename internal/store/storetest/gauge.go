package storetest

import "sync"

// Gauge counts operations in flight, such as pack uploads, for tests that
// check how many a client runs at once. It is safe for concurrent use; its
// zero value is ready.
type Gauge struct {
	mu        sync.Mutex
	now, most int
	total     int
}

// Enter counts one more operation in flight and returns the function that
// ends it.
func (g *Gauge) Enter() (leave func()) {
	g.mu.Lock()
	g.now++
	g.total++
	g.most = max(g.most, g.now)
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		g.now--
		g.mu.Unlock()
	}
}

// Counts returns the operations in flight now, the most at once and how
// many began.
func (g *Gauge) Counts() (now, most, total int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.now, g.most, g.total
}
