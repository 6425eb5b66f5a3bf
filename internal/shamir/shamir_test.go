package shamir

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

type vector struct {
	Name   string `json:"name"`
	Secret string `json:"secret"`
	K      int    `json:"k"`
	N      int    `json:"n"`
	Rand   string `json:"rand"`
	Shares []struct {
		X byte   `json:"x"`
		Y string `json:"y"`
	} `json:"shares"`
}

func loadVectors(t testing.TB) []vector {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	return vs
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVectors checks Split against shares computed by the independent
// Python implementation in testdata/vectors.py, and Combine on the first k
// and the last k of them.
func TestVectors(t *testing.T) {
	vs := loadVectors(t)
	if len(vs) < 6 {
		t.Fatalf("%d vectors, want 6", len(vs))
	}
	for _, v := range vs {
		secret := unhex(t, v.Secret)
		shares, err := Split(secret, v.K, v.N, bytes.NewReader(unhex(t, v.Rand)))
		if err != nil || len(shares) != len(v.Shares) {
			t.Fatalf("%s: Split: %d shares, %v", v.Name, len(shares), err)
		}
		for i, want := range v.Shares {
			if shares[i].X != want.X || hex.EncodeToString(shares[i].Y) != want.Y {
				t.Errorf("%s: share %d = %d:%x, want %d:%s", v.Name, i, shares[i].X, shares[i].Y, want.X, want.Y)
			}
		}
		for _, sub := range [][]Share{shares[:v.K], shares[v.N-v.K:]} {
			if got, err := Combine(sub); err != nil || !bytes.Equal(got, secret) {
				t.Errorf("%s: Combine = %x, %v", v.Name, got, err)
			}
		}
	}
}

// subsets calls f with every subset of size k of 0..n-1.
func subsets(n, k int, f func([]int)) {
	var rec func(start int, cur []int)
	rec = func(start int, cur []int) {
		if len(cur) == k {
			f(cur)
			return
		}
		for i := start; i < n; i++ {
			rec(i+1, append(cur, i))
		}
	}
	rec(0, nil)
}

func pick(shares []Share, idx []int) []Share {
	out := make([]Share, len(idx))
	for i, j := range idx {
		out[i] = shares[j]
	}
	return out
}

// TestAnyK combines every k-subset (in reverse order too) of random
// splits, and checks that k-1 shares give something else.
func TestAnyK(t *testing.T) {
	for _, tc := range []struct{ k, n, size int }{
		{1, 1, 1}, {1, 4, 8}, {2, 2, 32}, {2, 5, 32}, {3, 5, 32}, {4, 7, 17}, {5, 9, 64}, {8, 16, 32}, {16, 16, 32},
	} {
		secret := make([]byte, tc.size)
		rand.Read(secret)
		shares, err := Split(secret, tc.k, tc.n, rand.Reader)
		if err != nil {
			t.Fatalf("%d-of-%d: %v", tc.k, tc.n, err)
		}
		count := 0
		subsets(tc.n, tc.k, func(idx []int) {
			count++
			if count > 2000 {
				return
			}
			sub := pick(shares, idx)
			got, err := Combine(sub)
			if err != nil || !bytes.Equal(got, secret) {
				t.Errorf("%d-of-%d, shares %v: %x, %v", tc.k, tc.n, idx, got, err)
			}
			for i, j := 0, len(sub)-1; i < j; i, j = i+1, j-1 {
				sub[i], sub[j] = sub[j], sub[i]
			}
			if got, _ := Combine(sub); !bytes.Equal(got, secret) {
				t.Errorf("%d-of-%d, shares %v reversed: %x", tc.k, tc.n, idx, got)
			}
		})
		if tc.k == 1 || tc.size < 16 {
			continue // k-1 = 0 shares; or too short to rule out chance
		}
		subsets(tc.n, tc.k-1, func(idx []int) {
			if got, _ := Combine(pick(shares, idx)); bytes.Equal(got, secret) {
				t.Errorf("%d-of-%d: %d shares %v gave the secret", tc.k, tc.n, tc.k-1, idx)
			}
		})
	}
}

// fixedReader yields its bytes on every Read, so a Split of a 1-byte
// secret uses exactly the coefficients the test chose.
type fixedReader []byte

func (r fixedReader) Read(p []byte) (int, error) { return copy(p, r), nil }

// TestPerfectSecrecy checks exhaustively, for 2-of-n and 3-of-n sharing of
// one byte, that k-1 shares are equally consistent with every secret: as
// the random coefficients run through all their values, the k-1 shares
// take every possible value exactly once, whatever the secret.
func TestPerfectSecrecy(t *testing.T) {
	for _, tc := range []struct {
		k  int
		xs []int // indices of the k-1 shares observed
	}{
		{2, []int{0}}, {2, []int{4}}, {3, []int{0, 1}}, {3, []int{2, 4}},
	} {
		for _, secret := range []byte{0x00, 0x5a, 0xff} {
			seen := map[string]bool{}
			for c := range 1 << (8 * (tc.k - 1)) {
				r := fixedReader{byte(c), byte(c >> 8)}[:tc.k-1]
				shares, err := Split([]byte{secret}, tc.k, 5, r)
				if err != nil {
					t.Fatal(err)
				}
				var key []byte
				for _, i := range tc.xs {
					key = append(key, shares[i].Y[0])
				}
				seen[string(key)] = true
			}
			if len(seen) != 1<<(8*(tc.k-1)) {
				t.Errorf("k=%d, shares %v, secret %#x: %d distinct share values, want all %d", tc.k, tc.xs, secret, len(seen), 1<<(8*(tc.k-1)))
			}
		}
	}
}

func TestSplitErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int
		k, n int
	}{
		{"empty secret", 0, 2, 3},
		{"secret too long", 65, 2, 3},
		{"k zero", 32, 0, 3},
		{"k above n", 32, 4, 3},
		{"n too large", 32, 2, 17},
	} {
		if _, err := Split(make([]byte, tc.size), tc.k, tc.n, rand.Reader); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", tc.name, err)
		}
	}
	if _, err := Split(make([]byte, 32), 3, 5, bytes.NewReader(make([]byte, 63))); err == nil {
		t.Error("short randomness: no error")
	}
}

func TestCombineErrors(t *testing.T) {
	y := []byte{1, 2, 3}
	many := make([]Share, 17)
	for i := range many {
		many[i] = Share{X: byte(i + 1), Y: y}
	}
	for _, tc := range []struct {
		name   string
		shares []Share
	}{
		{"none", nil},
		{"too many", many},
		{"x zero", []Share{{1, y}, {0, y}}},
		{"duplicate x", []Share{{1, y}, {2, y}, {1, y}}},
		{"mixed lengths", []Share{{1, y}, {2, y[:2]}}},
		{"empty y", []Share{{1, nil}, {2, nil}}},
		{"y too long", []Share{{1, make([]byte, 65)}}},
	} {
		if _, err := Combine(tc.shares); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", tc.name, err)
		}
	}
}

// TestField checks mul against carry-less multiplication reduced by long
// division, and inv as the inverse of every nonzero element.
func TestField(t *testing.T) {
	for a := range 256 {
		for b := range 256 {
			var p int
			for i := range 8 {
				if b>>i&1 == 1 {
					p ^= a << i
				}
			}
			for i := 14; i >= 8; i-- {
				if p>>i&1 == 1 {
					p ^= 0x11b << (i - 8)
				}
			}
			if got := mul(byte(a), byte(b)); got != byte(p) {
				t.Fatalf("mul(%#x, %#x) = %#x, want %#x", a, b, got, p)
			}
		}
		if a != 0 && mul(byte(a), inv(byte(a))) != 1 {
			t.Fatalf("inv(%#x) = %#x is not an inverse", a, inv(byte(a)))
		}
	}
	if inv(0) != 0 {
		t.Error("inv(0) != 0")
	}
}
