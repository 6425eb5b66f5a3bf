// Package shamir splits a short secret into n shares of which any k
// reconstruct it and any k-1 reveal nothing about it (Shamir's secret
// sharing), byte by byte over GF(2^8) with the AES polynomial
// x^8+x^4+x^3+x+1 (docs/pairing.md §P.6). It does no I/O.
//
// Combine cannot tell how many shares the secret needs: given fewer than k
// genuine shares, or any forged share, it returns a wrong secret without an
// error. Callers must authenticate what Combine returns, for example by
// opening an AEAD sealed under a key derived from it.
package shamir

import (
	"errors"
	"fmt"
	"io"
)

// Limits of Split and Combine.
const (
	MaxSecret = 64 // bytes in a secret
	MaxShares = 16 // n in Split, shares in Combine
)

// ErrInvalid is wrapped by every error of Split and Combine.
var ErrInvalid = errors.New("invalid secret sharing")

// Share is one point of every byte's polynomial: X is the nonzero
// evaluation point, Y[i] the value of byte i's polynomial at X.
type Share struct {
	X byte
	Y []byte
}

// Split returns n shares of secret, at X = 1..n, any k of which
// reconstruct it. Each byte of the secret is the constant term of its own
// random polynomial of degree k-1, whose other coefficients are read from
// rand (crypto/rand.Reader outside tests), k-1 bytes per secret byte in
// order. With k = 1 every share equals the secret.
func Split(secret []byte, k, n int, rand io.Reader) ([]Share, error) {
	if len(secret) < 1 || len(secret) > MaxSecret {
		return nil, fmt.Errorf("splitting a secret of %d bytes, want 1 to %d: %w", len(secret), MaxSecret, ErrInvalid)
	}
	if k < 1 || k > n || n > MaxShares {
		return nil, fmt.Errorf("splitting %d-of-%d, want 1 <= k <= n <= %d: %w", k, n, MaxShares, ErrInvalid)
	}
	coef := make([]byte, len(secret)*k)
	defer clear(coef)
	for i, s := range secret {
		c := coef[i*k : (i+1)*k]
		c[0] = s
		if _, err := io.ReadFull(rand, c[1:]); err != nil {
			return nil, fmt.Errorf("drawing share coefficients: %w", err)
		}
	}
	shares := make([]Share, n)
	for j := range shares {
		x := byte(j + 1)
		shares[j] = Share{X: x, Y: make([]byte, len(secret))}
		for i := range secret {
			shares[j].Y[i] = eval(coef[i*k:(i+1)*k], x)
		}
	}
	return shares, nil
}

// eval returns c[0] + c[1]·x + … + c[k-1]·x^(k-1) by Horner's rule.
func eval(c []byte, x byte) byte {
	var y byte
	for i := len(c) - 1; i >= 0; i-- {
		y = mul(y, x) ^ c[i]
	}
	return y
}

// Combine returns the secret whose polynomials pass through every share:
// Lagrange interpolation at X = 0. It refuses no shares or more than
// MaxShares, an X of 0, a repeated X and Y of differing or out-of-range
// lengths. It cannot detect too few shares or a false one (see the package
// comment).
func Combine(shares []Share) ([]byte, error) {
	if err := check(shares); err != nil {
		return nil, err
	}
	secret := make([]byte, len(shares[0].Y))
	for i, si := range shares {
		// l = Π_{j≠i} x_j / (x_j − x_i): the Lagrange basis at 0.
		l := byte(1)
		for j, sj := range shares {
			if j != i {
				l = mul(l, mul(sj.X, inv(sj.X^si.X)))
			}
		}
		for b := range secret {
			secret[b] ^= mul(l, si.Y[b])
		}
	}
	return secret, nil
}

// check enforces Combine's refusals.
func check(shares []Share) error {
	if len(shares) < 1 || len(shares) > MaxShares {
		return fmt.Errorf("combining %d shares, want 1 to %d: %w", len(shares), MaxShares, ErrInvalid)
	}
	size := len(shares[0].Y)
	var seen [256]bool
	for i, s := range shares {
		switch {
		case s.X == 0:
			return fmt.Errorf("share %d has X = 0: %w", i+1, ErrInvalid)
		case seen[s.X]:
			return fmt.Errorf("share %d repeats X = %d: %w", i+1, s.X, ErrInvalid)
		case len(s.Y) != size || size < 1 || size > MaxSecret:
			return fmt.Errorf("share %d holds %d bytes, want %d (1 to %d): %w", i+1, len(s.Y), size, MaxSecret, ErrInvalid)
		}
		seen[s.X] = true
	}
	return nil
}
