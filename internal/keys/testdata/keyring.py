#!/usr/bin/env python3
"""Independent check of the keyring vectors (docs/format.md §2.6).

It shares no code with the Go implementation: HKDF (RFC 5869) from Python's
hmac, HChaCha20 written out here from the XChaCha20 draft
(draft-irtf-cfrg-xchacha-03 §2.2), ChaCha20-Poly1305 from `cryptography`.
Run from internal/keys:  python3 testdata/keyring.py
"""
import hashlib, hmac, json, struct
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305


def hkdf(ikm, info, n=32):
    prk = hmac.new(b"\0" * 32, ikm, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()[:n]


def rotl(v, c):
    return ((v << c) & 0xFFFFFFFF) | (v >> (32 - c))


def quarter(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = rotl(s[b] ^ s[c], 7)


def hchacha20(key, nonce16):
    s = list(struct.unpack("<4I", b"expand 32-byte k") + struct.unpack("<8I", key) + struct.unpack("<4I", nonce16))
    for _ in range(10):
        for a, b, c, d in ((0, 4, 8, 12), (1, 5, 9, 13), (2, 6, 10, 14), (3, 7, 11, 15),
                           (0, 5, 10, 15), (1, 6, 11, 12), (2, 7, 8, 13), (3, 4, 9, 14)):
            quarter(s, a, b, c, d)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


def xchacha_seal(key, nonce24, pt, ad):
    sub = hchacha20(key, nonce24[:16])
    return ChaCha20Poly1305(sub).encrypt(b"\0" * 4 + nonce24[16:], pt, ad)


def keyring(v):
    root, nonce, e = bytes.fromhex(v["root_key"]), bytes.fromhex(v["nonce"]), v["epoch"]
    key = hkdf(root, b"coffer v1 keyring key")
    ad = b"coffer v1 keyring\0" + v["account_id"].encode() + b"\0" + struct.pack(">Q", e)
    pt = b"".join(bytes.fromhex(k) for k in v["older_root_keys"])
    return bytes([1, 3]) + struct.pack(">Q", e) + nonce + xchacha_seal(key, nonce, pt, ad)


vectors = json.load(open("testdata/vectors.json"))
for v in vectors["keyrings"]:
    assert keyring(v).hex() == v["object"], "keyring of epoch %d differs" % v["epoch"]
print("%d keyring vectors agree" % len(vectors["keyrings"]))
