package server

import (
	"math"
	"net/netip"
	"sync"
	"time"
)

// maxBuckets bounds the memory of a limiter: past it, idle buckets are
// dropped, and if none is idle, all are.
const maxBuckets = 1 << 16

// Default limits of coffer serve (docs/api.md, Limits). One client that
// waits for each answer before its next request (a backup or restore
// fetching one directory tree at a time) makes a few thousand requests a
// second at most, even on loopback: DefaultBudget is more than a minute of
// that, so an unchanged re-backup of a tree of 100 000 directories, or
// many small ones in a row, never waits. What is throttled is sustained
// load beyond DefaultRate: a client making 10 000 requests a second
// spends the budget in about 11 seconds and is then held to DefaultRate.
const (
	DefaultRate   = 1000    // requests per second, sustained
	DefaultBudget = 100_000 // requests at once, refilled at the rate
)

// limiter is a set of token buckets, one per key (an account or a client
// address): each holds up to burst tokens (the key's request budget),
// refilled at rate tokens per second; a request spends one.
type limiter struct {
	rate, burst float64
	mu          sync.Mutex
	buckets     map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was computed
}

// newLimiter returns a limiter allowing rate requests per second with a
// budget of burst (at least 1), or nil (no limit) if rate is 0.
func newLimiter(rate, burst float64) *limiter {
	if rate <= 0 {
		return nil
	}
	return &limiter{rate: rate, burst: max(burst, 1), buckets: make(map[string]*bucket)}
}

// take spends one token of key's bucket at time now. It returns 0 if the
// request may go ahead, else how long until a token is available.
func (l *limiter) take(key string, now time.Time) time.Duration {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		l.makeRoom(now)
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	b.tokens = l.refill(b, now)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return l.wait(b.tokens)
}

// wait is how long a bucket holding tokens (< 1) takes to hold one.
func (l *limiter) wait(tokens float64) time.Duration {
	return time.Duration((1 - tokens) / l.rate * float64(time.Second))
}

// peek returns 0 if key's bucket holds a token at now, else how long until
// it does. It spends nothing.
func (l *limiter) peek(key string, now time.Time) time.Duration {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		return 0
	}
	if tokens := l.refill(b, now); tokens < 1 {
		return l.wait(tokens)
	}
	return 0
}

// refill returns the tokens b holds at now.
func (l *limiter) refill(b *bucket, now time.Time) float64 {
	elapsed := max(now.Sub(b.at).Seconds(), 0)
	return min(b.tokens+elapsed*l.rate, l.burst)
}

// makeRoom keeps the number of buckets under maxBuckets: it drops full
// buckets (a full bucket is the same as none) and, if that is not enough,
// forgets every bucket. l.mu must be held.
func (l *limiter) makeRoom(now time.Time) {
	if len(l.buckets) < maxBuckets {
		return
	}
	for k, b := range l.buckets {
		if l.refill(b, now) >= l.burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxBuckets {
		clear(l.buckets)
	}
}

// retrySeconds rounds a wait up to whole seconds for Retry-After.
func retrySeconds(d time.Duration) int { return max(1, int(math.Ceil(d.Seconds()))) }

// clientKey is the rate-limit key of a client address ("host:port", or an
// address without a port): the IPv4 address, or the /64 prefix of an IPv6
// address, since one IPv6 client usually has a whole /64.
func clientKey(remoteAddr string) string {
	a, err := netip.ParseAddr(remoteAddr)
	if err != nil {
		ap, err := netip.ParseAddrPort(remoteAddr)
		if err != nil {
			return remoteAddr
		}
		a = ap.Addr()
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64) // cannot fail for a /64 of an IPv6 address
		return p.String()
	}
	return a.String()
}
