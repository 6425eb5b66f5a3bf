// Package metrics counts the requests coffer serve handles and writes the
// counts, with per-account usage, in the Prometheus text exposition format
// (version 0.0.4), written by hand to avoid a dependency. It does no I/O of
// its own beyond writing to the io.Writer it is given.
package metrics

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Buckets are the upper bounds, in seconds, of the request-duration
// histogram: from a cached lookup to a 256 MiB upload on a slow link.
var Buckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

// Registry holds the counters of one server process. It is safe for
// concurrent use.
type Registry struct {
	mu        sync.Mutex
	requests  map[requestKey]uint64
	errors    map[string]uint64
	durations map[string]*histogram
	received  int64
	sent      int64
}

type requestKey struct {
	route string
	code  int
}

// histogram counts observations per bucket (not cumulative; Write sums).
type histogram struct {
	counts []uint64 // one per bucket, then one for +Inf
	sum    float64
}

// New returns an empty registry.
func New() *Registry {
	return &Registry{
		requests:  make(map[requestKey]uint64),
		errors:    make(map[string]uint64),
		durations: make(map[string]*histogram),
	}
}

// Request is what the server observed of one request.
type Request struct {
	Route     string        // the route's name, from a fixed set
	Status    int           // the HTTP status sent
	ErrorCode string        // the error body's code, or empty on success
	Duration  time.Duration // from the first byte of the request to the last of the response
	Received  int64         // request body bytes read
	Sent      int64         // response body bytes written
}

// Observe records one request.
func (r *Registry) Observe(q Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests[requestKey{q.Route, q.Status}]++
	if q.ErrorCode != "" {
		r.errors[q.ErrorCode]++
	}
	h := r.durations[q.Route]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(Buckets)+1)}
		r.durations[q.Route] = h
	}
	secs := q.Duration.Seconds()
	i, _ := slices.BinarySearch(Buckets, secs) // first bound >= secs
	h.counts[i]++
	h.sum += secs
	r.received += q.Received
	r.sent += q.Sent
}

// Account is the usage of one account, reported as gauges.
type Account struct {
	ID      string
	Objects int64
	Bytes   int64
}

// Write writes every metric, with the given account gauges, in the text
// exposition format. Series are sorted, so equal counts give equal output.
func (r *Registry) Write(w io.Writer, accounts []Account) error {
	var b bytes.Buffer
	r.mu.Lock()
	r.writeRequests(&b)
	r.mu.Unlock()
	accounts = slices.Clone(accounts)
	slices.SortFunc(accounts, func(x, y Account) int { return strings.Compare(x.ID, y.ID) })
	header(&b, "coffer_objects", "gauge", "Objects stored, by account.")
	for _, a := range accounts {
		fmt.Fprintf(&b, "coffer_objects{account=%s} %d\n", quote(a.ID), a.Objects)
	}
	header(&b, "coffer_stored_bytes", "gauge", "Bytes stored, by account.")
	for _, a := range accounts {
		fmt.Fprintf(&b, "coffer_stored_bytes{account=%s} %d\n", quote(a.ID), a.Bytes)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// writeRequests writes the request counters; r.mu must be held.
func (r *Registry) writeRequests(b *bytes.Buffer) {
	header(b, "coffer_requests_total", "counter", "Requests handled, by route and HTTP status.")
	keys := sortedKeys(r.requests, func(x, y requestKey) int {
		return cmp.Or(strings.Compare(x.route, y.route), x.code-y.code)
	})
	for _, k := range keys {
		fmt.Fprintf(b, "coffer_requests_total{route=%s,code=\"%d\"} %d\n", quote(k.route), k.code, r.requests[k])
	}
	header(b, "coffer_request_duration_seconds", "histogram", "Time to handle a request, by route.")
	for _, route := range sortedKeys(r.durations, strings.Compare) {
		h := r.durations[route]
		var cum uint64
		for i, c := range h.counts {
			cum += c
			le := "+Inf"
			if i < len(Buckets) {
				le = strconv.FormatFloat(Buckets[i], 'g', -1, 64)
			}
			fmt.Fprintf(b, "coffer_request_duration_seconds_bucket{route=%s,le=\"%s\"} %d\n", quote(route), le, cum)
		}
		fmt.Fprintf(b, "coffer_request_duration_seconds_sum{route=%s} %s\n", quote(route), strconv.FormatFloat(h.sum, 'g', -1, 64))
		fmt.Fprintf(b, "coffer_request_duration_seconds_count{route=%s} %d\n", quote(route), cum)
	}
	header(b, "coffer_bytes_received_total", "counter", "Request body bytes received.")
	fmt.Fprintf(b, "coffer_bytes_received_total %d\n", r.received)
	header(b, "coffer_bytes_sent_total", "counter", "Response body bytes sent.")
	fmt.Fprintf(b, "coffer_bytes_sent_total %d\n", r.sent)
	header(b, "coffer_errors_total", "counter", "Error responses, by error code.")
	for _, code := range sortedKeys(r.errors, strings.Compare) {
		fmt.Fprintf(b, "coffer_errors_total{code=%s} %d\n", quote(code), r.errors[code])
	}
}

func header(b *bytes.Buffer, name, typ, help string) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// quote writes a label value: in double quotes, with backslash, double
// quote and line feed escaped as the exposition format requires.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

func sortedKeys[K comparable, V any](m map[K]V, cmp func(K, K) int) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmp)
	return keys
}
