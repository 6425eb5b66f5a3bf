package migrate

import (
	"context"
	"sync"
)

// workers is how many accounts are copied or verified at once: the time
// goes to listings and transfers, one request each, so they overlap.
const workers = 16

// eachAccount calls fn for every account, workers at a time, with a
// context cancelled once one call fails; it returns the first error, or
// ctx's if it ended first.
func eachAccount(ctx context.Context, accts []string, fn func(context.Context, string) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan string)
	var wg sync.WaitGroup
	for range min(workers, len(accts)) {
		wg.Go(func() {
			for a := range next {
				if err := fn(ctx, a); err != nil {
					cancel(err)
				}
			}
		})
	}
	feed(ctx, next, accts)
	wg.Wait()
	return context.Cause(ctx)
}

// feed sends the accounts on next until ctx is done, then closes it.
func feed(ctx context.Context, next chan<- string, accts []string) {
	defer close(next)
	for _, a := range accts {
		select {
		case next <- a:
		case <-ctx.Done():
			return
		}
	}
}

// count changes the report under its lock.
func (m *migration) count(fn func(r *Report)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fn(&m.report)
}
