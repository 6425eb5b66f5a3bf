package repo

import (
	"container/list"
	"sync"
)

// loadCache keeps byte slices read by key, most recently used first, up to
// max bytes in all; concurrent gets of one key share one read. A failed
// read is kept only if keepErr says so, else dropped so that the next get
// reads again. Its zero value is not ready; see newLoadCache.
type loadCache[K comparable] struct {
	mu      sync.Mutex
	max     int64
	size    int64
	keepErr func(error) bool
	lru     *list.List // of *loadEntry[K]
	entries map[K]*list.Element
}

type loadEntry[K comparable] struct {
	key   K
	ready chan struct{}
	data  []byte
	err   error
}

func newLoadCache[K comparable](max int64, keepErr func(error) bool) *loadCache[K] {
	return &loadCache[K]{max: max, keepErr: keepErr, lru: list.New(), entries: make(map[K]*list.Element)}
}

// get returns the bytes of key, calling read unless they are kept or
// being read.
func (c *loadCache[K]) get(key K, read func() ([]byte, error)) ([]byte, error) {
	c.mu.Lock()
	if el, ok := c.entries[key]; ok {
		c.lru.MoveToFront(el)
		e := el.Value.(*loadEntry[K])
		c.mu.Unlock()
		<-e.ready
		return e.data, e.err
	}
	e := &loadEntry[K]{key: key, ready: make(chan struct{})}
	c.entries[key] = c.lru.PushFront(e)
	c.mu.Unlock()
	e.data, e.err = read()
	close(e.ready)
	c.settle(e)
	return e.data, e.err
}

// settle drops e if its failure is not to be kept, else counts its size
// and evicts the least recently used entries beyond the bound (never e
// itself).
func (c *loadCache[K]) settle(e *loadEntry[K]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[e.key]
	if !ok || el.Value != e {
		return
	}
	if e.err != nil && !c.keepErr(e.err) {
		c.lru.Remove(el)
		delete(c.entries, e.key)
		return
	}
	c.size += int64(len(e.data))
	for c.size > c.max && c.lru.Back() != el {
		old := c.lru.Remove(c.lru.Back()).(*loadEntry[K])
		delete(c.entries, old.key)
		c.size -= int64(len(old.data))
	}
}
