package shamir

import (
	"bytes"
	"slices"
	"testing"
)

// FuzzCombine decodes shares from arbitrary bytes (x, then len bytes of y,
// repeated) and checks that Combine never panics and that an accepted set
// gives the same secret in any order and a secret of the shares' length.
func FuzzCombine(f *testing.F) {
	for _, v := range loadVectors(f) {
		var b []byte
		for _, s := range v.Shares {
			b = append(append(b, s.X), unhex(f, s.Y)...)
		}
		f.Add(byte(len(v.Secret)/2), b)
	}
	f.Fuzz(func(t *testing.T, size byte, b []byte) {
		var shares []Share
		for n := int(size) + 1; len(b) >= n; b = b[n:] {
			shares = append(shares, Share{X: b[0], Y: b[1:n]})
		}
		got, err := Combine(shares)
		if err != nil {
			return
		}
		if len(got) != int(size) {
			t.Fatalf("secret of %d bytes from shares of %d", len(got), size)
		}
		slices.Reverse(shares)
		if again, err := Combine(shares); err != nil || !bytes.Equal(again, got) {
			t.Fatalf("reversed order: %x, %v; want %x", again, err, got)
		}
	})
}

// FuzzSplitCombine splits an arbitrary secret with arbitrary coefficients
// and checks that the last k shares reconstruct it.
func FuzzSplitCombine(f *testing.F) {
	f.Add([]byte("secret"), byte(3), byte(5), []byte("0123456789abcdefghij"))
	f.Add(bytes.Repeat([]byte{0xff}, 64), byte(16), byte(16), bytes.Repeat([]byte{7}, 64*15))
	f.Fuzz(func(t *testing.T, secret []byte, k, n byte, coef []byte) {
		shares, err := Split(secret, int(k), int(n), bytes.NewReader(coef))
		if err != nil {
			return
		}
		got, err := Combine(shares[int(n)-int(k):])
		if err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("Combine = %x, %v; want %x", got, err, secret)
		}
	})
}
