//go:build linux || darwin

package fusefs

import (
	"container/list"
	"context"
	"sync"
)

// lru keeps values up to a total weight, dropping the least recently used
// first, and loads each missing key once however many callers want it at
// the same time. It is safe for concurrent use.
type lru[K comparable, V any] struct {
	max   int64 // total weight kept; a value over max/4 is not kept
	mu    sync.Mutex
	used  int64
	order *list.List // of *lruEntry, most recent first
	items map[K]*list.Element
}

type lruEntry[K comparable, V any] struct {
	key    K
	ready  chan struct{} // closed once val and err are set
	val    V
	err    error
	weight int64
}

func newLRU[K comparable, V any](max int64) *lru[K, V] {
	return &lru[K, V]{max: max, order: list.New(), items: make(map[K]*list.Element)}
}

// get returns the value of key, calling load for it unless it is kept or
// being loaded; load returns the value and its weight. A failed load is
// not kept.
func (c *lru[K, V]) get(ctx context.Context, key K, load func() (V, int64, error)) (V, error) {
	c.mu.Lock()
	if el, ok := c.items[key]; ok {
		c.order.MoveToFront(el)
		e := el.Value.(*lruEntry[K, V])
		c.mu.Unlock()
		return e.wait(ctx)
	}
	e := &lruEntry[K, V]{key: key, ready: make(chan struct{})}
	c.items[key] = c.order.PushFront(e)
	c.mu.Unlock()
	e.val, e.weight, e.err = load()
	c.settle(e)
	close(e.ready)
	return e.val, e.err
}

// wait returns e's value once it is loaded, or ctx's error first.
func (e *lruEntry[K, V]) wait(ctx context.Context) (V, error) {
	select {
	case <-e.ready:
		return e.val, e.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// settle accounts for e once loaded: drops it if it failed or is too
// heavy, else evicts the least recently used loaded values over max.
func (c *lru[K, V]) settle(e *lruEntry[K, V]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.err != nil || e.weight > c.max/4 {
		c.remove(e.key, e)
		return
	}
	c.used += e.weight
	for el := c.order.Back(); el != nil && c.used > c.max; {
		prev := el.Prev()
		if old := el.Value.(*lruEntry[K, V]); old != e && old.weight > 0 {
			c.remove(old.key, old)
			c.used -= old.weight
		}
		el = prev
	}
}

// remove forgets key if it still stands for e.
func (c *lru[K, V]) remove(key K, e *lruEntry[K, V]) {
	if el, ok := c.items[key]; ok && el.Value == e {
		c.order.Remove(el)
		delete(c.items, key)
	}
}
