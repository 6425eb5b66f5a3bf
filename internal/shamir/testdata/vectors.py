#!/usr/bin/env python3
"""Independent generator of internal/shamir/testdata/vectors.json.

Shamir secret sharing over GF(2^8) with the AES polynomial 0x11b, written
from docs/pairing.md §P.6 without reference to the Go code: it multiplies
through log/antilog tables of the generator 3, so it shares no arithmetic
with the Go implementation. Run it from this directory; the Go tests check
that Split and Combine reproduce every vector.
"""
import hashlib, json

EXP, LOG = [0] * 510, [0] * 256
v = 1
for i in range(255):
    EXP[i] = EXP[i + 255] = v
    LOG[v] = i
    v ^= (v << 1) ^ (0x11b if v & 0x80 else 0)  # v·3 = v·x + v
    v &= 0xff

def mul(a, b):
    return 0 if a == 0 or b == 0 else EXP[LOG[a] + LOG[b]]

def stream(seed, n):
    """Deterministic coefficient bytes: SHA-256(seed || counter) blocks."""
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(seed + i.to_bytes(4, "big")).digest()
        i += 1
    return out[:n]

def split(secret, k, n, rnd):
    shares = []
    for x in range(1, n + 1):
        y = bytearray()
        for i, s in enumerate(secret):
            c = [s] + list(rnd[i * (k - 1):(i + 1) * (k - 1)])
            acc, p = 0, 1
            for coef in c:
                acc ^= mul(coef, p)
                p = mul(p, x)
            y.append(acc)
        shares.append({"x": x, "y": y.hex()})
    return shares

CASES = [  # (name, secret, k, n)
    ("1-of-1, one byte", bytes([0x42]), 1, 1),
    ("2-of-3, 16 bytes", bytes(range(16)), 2, 3),
    ("3-of-5, 32 bytes", bytes(range(0xa0, 0xc0)), 3, 5),
    ("5-of-5, 32 bytes of ff", b"\xff" * 32, 5, 5),
    ("16-of-16, 64 bytes", bytes(range(64)), 16, 16),
    ("4-of-16, 33 bytes of 00", bytes(33), 4, 16),
]

out = []
for name, secret, k, n in CASES:
    rnd = stream(name.encode(), len(secret) * (k - 1))
    out.append({"name": name, "secret": secret.hex(), "k": k, "n": n,
                "rand": rnd.hex(), "shares": split(secret, k, n, rnd)})
with open("vectors.json", "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
