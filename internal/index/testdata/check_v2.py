#!/usr/bin/env python3
"""Independent check of v2.index, written from docs/format.md §7.1-§7.2.

It finds the end of the v2 body (magic, version 2, supersedes, packs),
reads the signer and signature that follow, checks the zero padding and
verifies the Ed25519 signature over
"coffer v1 index signature" || 0x00 || account || body
with the key of seed 32 x 0x07. Run: python3 check_v2.py
"""
import os, struct
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

b = open(os.path.join(os.path.dirname(__file__), "v2.index"), "rb").read()
assert b[:4] == b"CIDX" and b[4] == 2
i = 5
(s,) = struct.unpack("<I", b[i:i + 4]); i += 4 + 32 * s
(p,) = struct.unpack("<I", b[i:i + 4]); i += 4
for _ in range(p):
    (n,) = struct.unpack("<I", b[i + 32:i + 36]); i += 36 + 45 * n
body, signer, sig = b[:i], b[i:i + 16], b[i + 16:i + 80]
assert signer == bytes([0x0a]) * 16
assert all(c == 0 for c in b[i + 80:])
key = Ed25519PrivateKey.from_private_bytes(bytes([7]) * 32).public_key()
key.verify(sig, b"coffer v1 index signature\0" + b"0123456789abcdef0123456789abcdef" + body)
print("ok: %d bytes, body %d, signer %s" % (len(b), len(body), signer.hex()))
