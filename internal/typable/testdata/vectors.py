#!/usr/bin/env python3
"""Independent generator of internal/typable/testdata/vectors.json.

Written from docs/pairing.md §P.2 and docs/format.md §2.5 without reference
to the Go code. It reuses the payloads of the recovery key, pairing code and
share code vectors of internal/keys and internal/pairing, checks that it
gives their texts, and adds texts each form must refuse. Run it from this
directory; the Go tests check that the package reproduces every vector.
"""
import hashlib, json

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

def b32(data):
    bits = "".join(f"{b:08b}" for b in data)
    bits += "0" * (-len(bits) % 5)
    return "".join(ALPHABET[int(bits[i:i + 5], 2)] for i in range(0, len(bits), 5))

def mulx(a):
    a <<= 1
    return a ^ 0x25 if a & 0x20 else a

def check(s):
    a = 0
    for c in s:
        a = mulx(a) ^ ALPHABET.index(c)
    return ALPHABET[mulx(a)]

def group(s):
    return "-".join(s[i:i + 4] for i in range(0, len(s), 4))

def typable(payload, h):
    s = b32(payload) + b32(hashlib.sha256(payload).digest())[:h]
    return group(s + check(s))

def flip(c, bit):
    return ALPHABET[ALPHABET.index(c) ^ bit]

def refusals(what, payload, h):
    """Texts whose GF(32) check holds but whose other characters are wrong."""
    s = typable(payload, h).replace("-", "")[:-1]
    n = len(b32(payload))
    pad = s[:n - 1] + flip(s[n - 1], 1) + s[n:]  # lowest padding bit set
    bad_hash = s[:n] + flip(s[n], 16) + s[n + 1:]
    return [{"what": what, "size": len(payload), "hash": h, "why": why,
             "text": group(t + check(t)), "error": "checksum"}
            for why, t in (("padding bit set", pad), ("hash character wrong", bad_hash))]

keys = json.load(open("../../keys/testdata/vectors.json"))
pairing = json.load(open("../../pairing/testdata/vectors.json"))
cases = [("recovery key", bytes.fromhex(v["key"]), 3, v["text"]) for v in keys["recovery_keys"]]
cases += [("pairing code", bytes.fromhex(v["code"]), 1, v["text"]) for v in pairing["codes"]]
cases += [("share code", bytes.fromhex(v["account"]) + bytes([v["x"]]) + bytes.fromhex(v["y"]), 4, v["text"])
          for v in pairing["share_codes"]]

out = {"valid": [], "invalid": []}
for what, payload, h, text in cases:
    assert typable(payload, h) == text, (what, text)
    out["valid"].append({"what": what, "size": len(payload), "hash": h,
                         "payload": payload.hex(), "text": text})
for what, payload, h, _ in cases[:1] + cases[len(keys["recovery_keys"]):][:1] + cases[-1:]:
    out["invalid"] += refusals(what, payload, h)
with open("vectors.json", "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
