// Package binread reads fixed-layout binary records from untrusted bytes:
// every read is bounds-checked, the first short read is remembered, and
// nothing allocates more than the input holds.
package binread

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Reader consumes a byte slice front to back. After the first short read it
// returns nil slices and zeros, and Err reports the failure wrapped around
// the sentinel given to New.
type Reader struct {
	b        []byte
	err      error
	sentinel error
}

// New returns a Reader of b whose errors wrap sentinel.
func New(b []byte, sentinel error) *Reader { return &Reader{b: b, sentinel: sentinel} }

// Take returns a copy of the next n bytes.
func (r *Reader) Take(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		if r.err == nil {
			r.err = fmt.Errorf("truncated: %w", r.sentinel)
		}
		return nil
	}
	v := bytes.Clone(r.b[:n])
	r.b = r.b[n:]
	return v
}

// U8 reads one byte.
func (r *Reader) U8() byte {
	if v := r.Take(1); v != nil {
		return v[0]
	}
	return 0
}

// U16 reads a big-endian 16-bit integer.
func (r *Reader) U16() uint16 {
	if v := r.Take(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

// U32 reads a big-endian 32-bit integer.
func (r *Reader) U32() uint32 {
	if v := r.Take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

// U64 reads a big-endian 64-bit integer.
func (r *Reader) U64() uint64 {
	if v := r.Take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// Len returns how many bytes remain.
func (r *Reader) Len() int { return len(r.b) }

// Err returns the first failure, if any.
func (r *Reader) Err() error { return r.err }

// Fail records a failure found by the caller, unless one is recorded.
func (r *Reader) Fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// End reports an error if bytes remain or a read fell short.
func (r *Reader) End() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d trailing bytes: %w", len(r.b), r.sentinel)
	}
	return r.err
}
