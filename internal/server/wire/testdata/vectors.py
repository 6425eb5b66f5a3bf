#!/usr/bin/env python3
"""Independent known-answer vectors for docs/api.md, written with the Python
'cryptography' package (not Go): device ID, the signed register and auth
messages, their Ed25519 signatures, and request bodies as a client sends
them. Run: python3 vectors.py > vectors.json"""
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
    reg = b"coffer v1 register\x00" + account.encode() + b"\x00" + device.encode()
    auth = b"coffer v1 auth\x00" + account.encode() + b"\x00" + device.encode() + b"\x00" + challenge
    b64 = lambda b: base64.b64encode(b).decode()
    reg_sig, auth_sig = key.sign(reg), key.sign(auth)
    vectors.append({
        "seed": seed.hex(), "sign_key": pub.hex(), "device": device, "account": account,
        "register_message": reg.hex(), "register_signature": reg_sig.hex(),
        "challenge": challenge.hex(), "auth_message": auth.hex(), "auth_signature": auth_sig.hex(),
        "register_request": {"account": account, "device": {"sign_key": b64(pub), "name": "laptop %d" % i}, "signature": b64(reg_sig)},
        "token_request": {"account": account, "device": device, "challenge": b64(challenge), "signature": b64(auth_sig)},
    })
print(json.dumps({"vectors": vectors}, indent=1))
