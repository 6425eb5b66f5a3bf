#!/usr/bin/env python3
"""Independent generator of internal/pairing/testdata/vectors.json.

Written from docs/pairing.md §P.2, §P.3 and §P.6 without reference to the
Go code: Crockford base32, the GF(32) check character, HKDF-SHA-256 (RFC
5869, from hmac), and XChaCha20-Poly1305 built from a pure-Python HChaCha20
and the `cryptography` package's IETF ChaCha20-Poly1305. Run it from this
directory; the Go tests check that the package reproduces every vector.
"""
import hashlib, hmac, json, struct
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

def b32(data):
    bits = "".join(f"{b:08b}" for b in data)
    bits += "0" * (-len(bits) % 5)
    return "".join(ALPHABET[int(bits[i:i + 5], 2)] for i in range(0, len(bits), 5))

def mulx(a):
    a <<= 1
    return a ^ 0x25 if a & 0x20 else a

def typable(payload, hash_chars):
    s = b32(payload) + b32(hashlib.sha256(payload).digest())[:hash_chars]
    a = 0
    for c in s:
        a = mulx(a) ^ ALPHABET.index(c)
    s += ALPHABET[mulx(a)]
    return "-".join(s[i:i + 4] for i in range(0, len(s), 4))

def hkdf(ikm, info, n):
    prk = hmac.new(b"\0" * 32, ikm, hashlib.sha256).digest()
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + info.encode() + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:n]

def rotl(v, c):
    return ((v << c) | (v >> (32 - c))) & 0xffffffff

def hchacha20(key, nonce16):
    s = list(struct.unpack("<4I", b"expand 32-byte k")) + list(struct.unpack("<8I", key)) + list(struct.unpack("<4I", nonce16))
    def qr(a, b, c, d):
        s[a] = (s[a] + s[b]) & 0xffffffff; s[d] = rotl(s[d] ^ s[a], 16)
        s[c] = (s[c] + s[d]) & 0xffffffff; s[b] = rotl(s[b] ^ s[c], 12)
        s[a] = (s[a] + s[b]) & 0xffffffff; s[d] = rotl(s[d] ^ s[a], 8)
        s[c] = (s[c] + s[d]) & 0xffffffff; s[b] = rotl(s[b] ^ s[c], 7)
    for _ in range(10):
        qr(0, 4, 8, 12); qr(1, 5, 9, 13); qr(2, 6, 10, 14); qr(3, 7, 11, 15)
        qr(0, 5, 10, 15); qr(1, 6, 11, 12); qr(2, 7, 8, 13); qr(3, 4, 9, 14)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))

def xseal(key, nonce, msg, ad):
    sub = hchacha20(key, nonce[:16])
    return nonce + ChaCha20Poly1305(sub).encrypt(b"\0" * 4 + nonce[16:], msg, ad)

CODES = [bytes(16), bytes(range(16)), b"\xff" * 16, hashlib.sha256(b"code").digest()[:16]]
SEALS = [  # (code, slot, nonce, message)
    (CODES[1], 1, bytes(range(0x40, 0x58)), b"join"),
    (CODES[1], 2, bytes(range(0x40, 0x58)), b"join"),
    (CODES[3], 3, b"\x00" * 24, b""),
    (CODES[3], 4, bytes(range(24)), bytes(range(256)) * 4),
]
SHARES = [  # (account, x, y)
    (bytes(16), 1, bytes(32)),
    (bytes(range(16)), 2, bytes(range(0xa0, 0xc0))),
    (b"\xff" * 16, 255, b"\xff" * 32),
]

out = {"codes": [], "seals": [], "share_codes": []}
for c in CODES:
    out["codes"].append({"code": c.hex(), "text": typable(c, 1),
                         "id": hkdf(c, "coffer v1 pairing id", 16).hex(),
                         "key": hkdf(c, "coffer v1 pairing key", 32).hex()})
for c, slot, nonce, msg in SEALS:
    ad = b"coffer v1 pairing\0" + hkdf(c, "coffer v1 pairing id", 16) + b"\0" + bytes([slot])
    out["seals"].append({"code": c.hex(), "slot": slot, "nonce": nonce.hex(), "msg": msg.hex(),
                         "sealed": xseal(hkdf(c, "coffer v1 pairing key", 32), nonce, msg, ad).hex()})
for acct, x, y in SHARES:
    out["share_codes"].append({"account": acct.hex(), "x": x, "y": y.hex(),
                               "text": typable(acct + bytes([x]) + y, 4)})
with open("vectors.json", "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
