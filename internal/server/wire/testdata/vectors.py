#!/usr/bin/env python3
"""Independent known-answer vectors for docs/api.md, written with the Python
'cryptography' package (not Go): device ID, the signed auth message, its
Ed25519 signature, and request bodies as a client sends them. The genesis
and chain entries in the bodies are opaque bytes here: the entries' own
encoding has its vectors in internal/devices/testdata.
Run: python3 vectors.py > vectors.json"""
import base64, hashlib, json
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

vectors = []
for i, (seed, account, challenge) in enumerate([
    (bytes(range(32)), "00112233445566778899aabbccddeeff", bytes(32)),
    (hashlib.sha256(b"coffer api vector 2").digest(), "f0e1d2c3b4a5968778695a4b3c2d1e0f", hashlib.sha256(b"challenge 2").digest()),
]):
    key = Ed25519PrivateKey.from_private_bytes(seed)
    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    device = hashlib.sha256(pub).digest()[:16].hex()
    auth = b"coffer v1 auth\x00" + account.encode() + b"\x00" + device.encode() + b"\x00" + challenge
    b64 = lambda b: base64.b64encode(b).decode()
    auth_sig = key.sign(auth)
    genesis = hashlib.sha256(b"genesis %d" % i).digest() * 3
    entry = hashlib.sha256(b"entry %d" % i).digest() * 2
    vectors.append({
        "seed": seed.hex(), "sign_key": pub.hex(), "device": device, "account": account,
        "genesis": genesis.hex(), "entry": entry.hex(), "pairing": hashlib.sha256(b"pairing %d" % i).digest()[:16].hex(),
        "challenge": challenge.hex(), "auth_message": auth.hex(), "auth_signature": auth_sig.hex(),
        "register_request": {"account": account, "genesis": b64(genesis)},
        "chain_append_request": {"seq": 7 + i, "entry": b64(entry)},
        "pairing_request": {"id": hashlib.sha256(b"pairing %d" % i).digest()[:16].hex(), "ttl": 600 * (i + 1)},
        "token_request": {"account": account, "device": device, "challenge": b64(challenge), "signature": b64(auth_sig)},
    })
print(json.dumps({"vectors": vectors}, indent=1))
