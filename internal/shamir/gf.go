package shamir

// Arithmetic in GF(2^8) = GF(2)[x]/(x^8+x^4+x^3+x+1), the field of AES.
// Addition is XOR. Multiplication runs the same instructions whatever its
// operands (no table indexed by a secret, no data-dependent branch), so its
// timing does not depend on the secret bytes it handles.

// mul returns a·b.
func mul(a, b byte) byte {
	var p byte
	for range 8 {
		p ^= a & -(b & 1)       // add a when the low bit of b is set
		a = a<<1 ^ 0x1b&-(a>>7) // a·x, reduced when a had degree 7
		b >>= 1
	}
	return p
}

// inv returns a^254, the inverse of a nonzero a (and 0 for 0), by a fixed
// chain of squarings and multiplications.
func inv(a byte) byte {
	// 254 = 0b11111110: a^254 = Π_{i=1..7} a^(2^i).
	var r byte = 1
	sq := a
	for range 7 {
		sq = mul(sq, sq)
		r = mul(r, sq)
	}
	return r
}
