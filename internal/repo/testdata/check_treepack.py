#!/usr/bin/env python3
"""Independent reader of the tree-pack vector (docs/format.md §6.5, §6.7).

Written from docs/format.md and sharing no code with the Go
implementation; it borrows the envelope, pack-header and frame helpers
of internal/pack/testdata/check_v1.py (the same kind of independent
reader), so it needs only Python's `cryptography` package and the `zstd`
command-line tool. In order, it:

1. checks that treepack.index hashes to its name, opens it (§7.2),
   decodes it by every rule of §7.1 and verifies its Ed25519 signature;
2. decides each listed pack's kind by §6.7's rule (a tree pack if every
   blob the index lists in it is a tree) and compares it with the JSON;
3. checks that each pack hashes to its name and that its header (§6.4)
   agrees with the index;
4. opens every blob from the whole pack's bytes at the index's offset
   (§6.1), unframes it (§3.2) and checks its ID (§3), and decodes every
   tree (§5.1), checking that the subtrees and extents it names are blobs
   of the vector.

Run from anywhere:  python3 internal/repo/testdata/check_treepack.py
"""
import hashlib, hmac, json, os, struct, sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "pack", "testdata"))
from check_v1 import OVERHEAD, hkdf, ad, open_envelope, padme, read_header, unframe  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

MAX_OBJECT = 67108864
TREE_READ_SIZE = 8388608
LABELS = {1: "coffer v1 blob data", 2: "coffer v1 blob tree"}


class Reader:
    def __init__(self, b, i=0):
        self.b, self.i = b, i

    def take(self, n):
        if n > len(self.b) - self.i:
            raise ValueError("truncated")
        out = self.b[self.i:self.i + n]
        self.i += n
        return out

    def u32(self):
        return struct.unpack("<I", self.take(4))[0]

    def uvarint(self):
        """§5.1: minimal unsigned LEB128, at most 10 bytes."""
        x, shift = 0, 0
        for k in range(10):
            c = self.take(1)[0]
            x |= (c & 0x7F) << shift
            if c < 0x80:
                if k > 0 and c == 0:
                    raise ValueError("non-minimal varint")
                if x >= 1 << 64:
                    raise ValueError("varint over 64 bits")
                return x
            shift += 7
        raise ValueError("varint longer than 10 bytes")

    def svarint(self):
        u = self.uvarint()
        return (u >> 1) ^ -(u & 1)

    def bytes_(self):
        return self.take(self.uvarint())


def decode_index(plain, account, signer, seed):
    """§7.1, version 2: returns the packs as {pack_id: [entries]}."""
    r = Reader(plain)
    if r.take(4) != b"CIDX" or r.take(1) != b"\x02":
        raise ValueError("1: magic or version (this vector is signed: version 2)")
    sups = [r.take(32) for _ in range(r.u32())]
    if sups != sorted(set(sups)) or b"\0" * 32 in sups:
        raise ValueError("2: superseded names")
    packs, prev = {}, b""
    for _ in range(r.u32()):
        pid, n = r.take(32), r.u32()
        if pid <= prev or pid == b"\0" * 32 or n < 1:
            raise ValueError("3: pack order, zero name or empty pack")
        prev, end, blobs = pid, 0, []
        for _ in range(n):
            typ, bid = r.take(1)[0], r.take(32)
            off, length, raw = r.u32(), r.u32(), r.u32()
            if off < end:
                raise ValueError("4: blobs out of order or overlapping")
            if typ not in (1, 2) or bid == b"\0" * 32 or length < OVERHEAD or off + length > 2**32 - 1:
                raise ValueError("5: blob entry")
            end = off + length
            blobs.append(dict(type=typ, id=bid.hex(), offset=off, length=length, raw_length=raw))
        packs[pid.hex()] = blobs
    body = plain[:r.i]
    got_signer, sig = r.take(16), r.take(64)
    u = r.i
    if len(plain) != padme(u + OVERHEAD) - OVERHEAD or plain[u:].strip(b"\0"):
        raise ValueError("6: padding")
    if got_signer.hex() != signer:
        raise ValueError("signer is not the vector's")
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed)).public_key()
    key.verify(sig, b"coffer v1 index signature\0" + account.encode() + body)
    return packs


def decode_tree(b):
    """§5.1: returns [(name, type, subtrees, extent IDs)]."""
    r = Reader(b)
    if r.take(4) != b"CTR1":
        raise ValueError("tree magic")
    nodes = []
    for _ in range(r.uvarint()):
        name, typ = r.bytes_(), r.take(1)[0]
        for _ in range(3):  # mode, uid, gid
            r.uvarint()
        r.bytes_(), r.bytes_()  # user, group
        r.svarint(), r.svarint()  # mtime, ctime
        for _ in range(5):  # size, inode, device, links, rdev
            r.uvarint()
        r.bytes_()  # target
        for _ in range(r.uvarint()):
            r.bytes_(), r.bytes_()
        extents = []
        for _ in range(r.uvarint()):
            extents.append(r.take(32).hex())
            r.uvarint()
        subtrees = [r.take(32).hex() for _ in range(r.uvarint())]
        nodes.append((name, typ, subtrees, extents))
    if r.i != len(b):
        raise ValueError("bytes after the last node")
    return nodes


def main():
    v = json.load(open(os.path.join(HERE, "treepack.json")))
    root = bytes.fromhex(v["root_key"])
    data_key = hkdf(root, b"", b"coffer v1 data key")
    id_key = hkdf(root, b"", b"coffer v1 blob id key")

    sealed = open(os.path.join(HERE, v["index"]["file"]), "rb").read()
    assert len(sealed) <= MAX_OBJECT and len(sealed) == v["index"]["size"]
    assert hashlib.sha256(sealed).hexdigest() == v["index"]["name"], "index name"
    plain = open_envelope(data_key, sealed, ad("coffer v1 index"))
    listed = decode_index(plain, v["account"], v["signer"], v["signing_seed"])

    want = {p["name"]: p for p in v["packs"]}
    assert sorted(listed) == sorted(want), "the index lists other packs than the JSON"
    blobs, trees, kinds = set(), {}, []
    for name, entries in listed.items():
        p = want[name]
        kind = "tree" if all(e["type"] == 2 for e in entries) else "data"  # §6.7
        assert kind == p["kind"], (p["file"], kind)
        kinds.append(kind)
        whole = open(os.path.join(HERE, p["file"]), "rb").read()
        assert hashlib.sha256(whole).hexdigest() == name and len(whole) == p["size"], p["file"]
        if kind == "tree":
            assert len(whole) <= TREE_READ_SIZE, "a tree pack read whole is at most TreeReadSize"
        assert read_header(whole, data_key) == entries, p["file"] + ": header and index disagree"
        markers = set()
        for e, j in zip(entries, p["entries"], strict=True):
            for k in ("type", "id", "offset", "length", "raw_length"):
                assert e[k] == j[k], (p["file"], k, e, j)
            bid = bytes.fromhex(e["id"])
            env = whole[e["offset"]:e["offset"] + e["length"]]
            framed = open_envelope(data_key, env, ad(LABELS[e["type"]], bid))
            assert framed.hex() == j["framed"], (p["file"], e["id"])
            b = unframe(framed, e["raw_length"])
            assert b.hex() == j["plaintext"], (p["file"], e["id"])
            assert hmac.new(id_key, bytes([e["type"]]) + b, hashlib.sha256).digest() == bid, (p["file"], e["id"])
            blobs.add((e["type"], e["id"]))
            markers.add(framed[0])
            if e["type"] == 2:
                trees[e["id"]] = decode_tree(b)
        if kind == "tree":
            assert markers == {0, 1}, "the tree pack should hold a raw and a zstd frame"
        print("%s: %s pack, %d blobs, %d bytes, frame markers %s: ok"
              % (p["file"], kind, len(entries), len(whole), sorted(markers)))
    assert sorted(kinds) == ["data", "tree"], kinds
    referenced = set()
    for tid, nodes in trees.items():
        for name, typ, subtrees, extents in nodes:
            for s in subtrees:
                assert (2, s) in blobs, (name, "subtree", s)
                referenced.add(s)
            for x in extents:
                assert (1, x) in blobs, (name, "extent", x)
    roots = [t for t in trees if t not in referenced]
    assert len(roots) == 1, roots
    print("treepack.index: %d bytes, signed by %s; %d trees under root %s: ok"
          % (len(sealed), v["signer"], len(trees), roots[0][:12]))


if __name__ == "__main__":
    sys.exit(main())
