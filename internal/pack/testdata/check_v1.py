#!/usr/bin/env python3
"""Independent reader of testdata/v1.pack (docs/format.md §6.5).

Written from docs/format.md alone and sharing no code with the Go
implementation: HKDF and HMAC from Python's standard library, AES-256-GCM
from the `cryptography` package, and Zstandard frames decoded by the
reference `zstd` command-line tool. It derives the keys from the root key
(§2.1), reads and checks the pack's header in the order of §6.4, opens
every blob envelope with its associated data (§2.2), checks its frame
(§3.2) and its ID (§3), and requires all of it to agree with v1.json.

Run from internal/pack:  python3 testdata/check_v1.py
"""
import hashlib, hmac, json, struct, subprocess, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

OVERHEAD = 44
MAX_SIZE = 268435456
MAX_RAW = 67108864


def hkdf(ikm, salt, info, n=32):
    prk = hmac.new(salt or b"\0" * 32, ikm, hashlib.sha256).digest()
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out, i = out + t, i + 1
    return out[:n]


def ad(label, identity=b""):
    return label.encode() + b"\0" + identity


def open_envelope(data_key, env, assoc):
    if len(env) < OVERHEAD:
        raise ValueError("envelope shorter than 44 bytes")
    k = hkdf(data_key, env[:16], b"coffer v1 envelope session key")
    return AESGCM(k).decrypt(env[16:28], env[28:], assoc)


def padme(n):
    if n < 2:
        return n
    e = n.bit_length() - 1
    s = e.bit_length()
    mask = (1 << (e - s)) - 1
    return (n + mask) & ~mask


def mask_of(z):
    e = z.bit_length() - 1
    s = e.bit_length()
    return (1 << (e - s)) - 1


def read_header(pack, data_key):
    """§6.4, checks 1 to 8 in order; returns the entries."""
    z = len(pack)
    if not 4 + OVERHEAD + 5 <= z <= MAX_SIZE:
        raise ValueError("1: size out of range")
    (h,) = struct.unpack("<I", pack[-4:])
    if not (OVERHEAD + 5 <= h <= z - 4 and h <= OVERHEAD + 5 + 41 * 1000000 + mask_of(z)):
        raise ValueError("2: header length out of range")
    plain = open_envelope(data_key, pack[z - 4 - h:z - 4], ad("coffer v1 pack header"))  # 3
    version, n = plain[0], struct.unpack("<I", plain[1:5])[0]
    if version != 1 or not 1 <= n <= 1000000 or 5 + 41 * n > len(plain):
        raise ValueError("4: version or count")
    entries, seen, offset = [], set(), 0
    for i in range(n):
        e = plain[5 + 41 * i:5 + 41 * (i + 1)]
        typ, bid = e[0], e[1:33]
        length, raw = struct.unpack("<II", e[33:41])
        if typ not in (1, 2) or bid == b"\0" * 32 or length < OVERHEAD or (typ, bid) in seen:
            raise ValueError("5: entry %d" % i)
        seen.add((typ, bid))
        entries.append(dict(type=typ, id=bid.hex(), offset=offset, length=length, raw_length=raw))
        offset += length
    padding = plain[5 + 41 * n:]
    if padding.strip(b"\0"):
        raise ValueError("6: non-zero padding")
    if offset != z - 4 - h:
        raise ValueError("7: blobs do not fill the space before the header")
    if padme(z - len(padding)) != z:
        raise ValueError("8: padding is not Padmé's")
    return entries


def unframe(framed, raw_length):
    """§3.2, Reading."""
    if not framed or framed[0] not in (0, 1):
        raise ValueError("bad frame marker")
    body = framed[1:]
    if framed[0] == 0:
        if len(body) != raw_length:
            raise ValueError("raw frame of the wrong length")
        return body
    if raw_length > MAX_RAW:
        raise ValueError("raw length over 64 MiB")
    out = subprocess.run(["zstd", "-d", "-c", "-q"], input=body, capture_output=True, check=True).stdout
    if len(out) != raw_length:
        raise ValueError("zstd frame of the wrong length")
    return out


def main():
    g = json.load(open("testdata/v1.json"))
    pack = open("testdata/v1.pack", "rb").read()
    root = bytes.fromhex(g["root_key"])
    data_key = hkdf(root, b"", b"coffer v1 data key")
    id_key = hkdf(root, b"", b"coffer v1 blob id key")
    assert hashlib.sha256(pack).hexdigest() == g["name"] and len(pack) == g["size"]
    entries = read_header(pack, data_key)
    markers = set()
    for got, want in zip(entries, g["entries"], strict=True):
        for k in ("type", "id", "offset", "length", "raw_length"):
            assert got[k] == want[k], (k, got, want)
        label = {1: "coffer v1 blob data", 2: "coffer v1 blob tree"}[got["type"]]
        bid = bytes.fromhex(got["id"])
        framed = open_envelope(data_key, pack[got["offset"]:got["offset"] + got["length"]], ad(label, bid))
        assert framed.hex() == want["framed"], got
        plain = unframe(framed, got["raw_length"])
        assert plain.hex() == want["plaintext"], got
        assert hmac.new(id_key, bytes([got["type"]]) + plain, hashlib.sha256).digest() == bid, got
        markers.add(framed[0])
    print("v1.pack: %d blobs, %d bytes, frame markers %s: ok" % (len(entries), len(pack), sorted(markers)))


if __name__ == "__main__":
    sys.exit(main())
