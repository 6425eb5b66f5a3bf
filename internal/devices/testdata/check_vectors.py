#!/usr/bin/env python3
"""Independent reader of chain-v1.json, written from docs/devices.md alone.

It parses every entry, checks the hash chain, the signatures (with the
`cryptography` package's Ed25519), the countersignatures, DeviceIDs and the
root-key commitments, and prints the head hash. Run: python3 check_vectors.py
"""
import hashlib, json, struct, sys, os
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives import hashes

v = json.load(open(os.path.join(os.path.dirname(__file__), "chain-v1.json")))

def device_id(s): return hashlib.sha256(s).digest()[:16].hex()

def record(b, i):
    s, sig, n = b[i:i+32], b[i+1248:i+1312], b[i+1312]
    name = b[i+1313:i+1313+n]
    Ed25519PublicKey.from_public_bytes(s).verify(sig, b"coffer v1 device binding\0" + b[i+32:i+1248] + name)
    return {"S": s, "id": device_id(s), "name": name.decode()}, i + 1313 + n

for k, c in enumerate(v["root_key_commitments"]):
    okm = HKDF(hashes.SHA256(), 32, None, b"coffer v1 root key commitment").derive(bytes([k]) * 32)
    assert okm.hex() == c, k

devices, recovery, prev, epoch = {}, None, bytes(32), 0
appendonly, snaps, forgotten, plans = set(), {}, set(), set()
web, sessions = False, {}  # session ID -> [signing key, approver, revoked]
for seq, ev in enumerate(v["entries"]):
    b = bytes.fromhex(ev["entry"])
    assert b[0] == 1
    typ, s, p, t = b[1], *struct.unpack(">Q32sQ", b[2:50])
    assert s == seq and p == prev, seq
    alen = b[50]; acct = b[51:51+alen].decode(); i = 51 + alen
    assert acct == v["account_id"]
    new = None
    if typ == 1:
        new, i = record(b, i); recovery = b[i:i+32]; i += 32
        e, = struct.unpack(">Q", b[i:i+8]); assert e == 0; i += 40
    elif typ in (2, 7):  # 7: the device added has append-only rights
        new, i = record(b, i)
    elif typ in (8, 10):
        obj = b[i:i+32]; i += 32
    elif typ == 9:
        n, = struct.unpack(">H", b[i:i+2]); i += 2
        assert 1 <= n <= 1000
        gone_snaps = [b[i+32*j:i+32*j+32] for j in range(n)]; i += 32 * n
        assert len(set(gone_snaps)) == n
    elif typ == 3:
        gone = b[i:i+16].hex(); e, = struct.unpack(">Q", b[i+16:i+24]); i += 56
        assert e == epoch + 1; epoch = e
    elif typ == 4:
        e, = struct.unpack(">Q", b[i:i+8]); i += 40; assert e == epoch + 1; epoch = e
    elif typ == 5:
        newrec = b[i:i+32]; i += 32
    elif typ == 6:
        k, n = b[i], b[i+1]; i += 2
        for _ in range(n): _, i = record(b, i)
    elif typ == 11:  # web access: 0x00 off, 0x01 on, a change
        flag = b[i]; i += 1
        assert flag in (0, 1) and bool(flag) != web, seq
    elif typ == 12:  # browser session: ID, S, K, not-before, not-after, scope, epoch
        sid, bs = b[i:i+16].hex(), b[i+16:i+48]
        nb, na = struct.unpack(">QQ", b[i+1264:i+1280]); scope = b[i+1280]
        e, = struct.unpack(">Q", b[i+1281:i+1289]); i += 1289
        assert device_id(bs) == sid and 0 < na - nb <= 86400 and scope == 1 and e == epoch and web, seq
        assert sid not in sessions and sid not in devices, seq
    elif typ == 13:  # revoke browser session
        sid = b[i:i+16].hex(); i += 16
        assert sid in sessions and not sessions[sid][2], seq
    tag = b[i]; i += 1
    if tag == 1:
        signer = b[i:i+16].hex(); i += 16
        key = new["S"] if typ == 1 else devices[signer]
    else:
        signer, key = "recovery", recovery
    signed, sig = b[:i], b[i:i+64]; i += 64
    Ed25519PublicKey.from_public_bytes(key).verify(sig, b"coffer v1 device chain\0" + signed)
    # rights (D.4 step 6): the recovery key signs no snapshot, forget or
    # plan; an append-only device signs snapshot entries only
    assert not (signer == "recovery" and typ in (8, 9, 10, 11, 12, 13)), seq
    assert not (signer in appendonly and typ != 8), seq
    if typ in (1, 2, 5, 7, 12):  # countersigned by the key the entry introduces (D.3)
        counter = new["S"] if typ in (2, 7) else (recovery if typ == 1 else newrec if typ == 5 else bs)
        Ed25519PublicKey.from_public_bytes(counter).verify(b[i:i+64], b"coffer v1 device chain countersignature\0" + signed); i += 64
    assert i == len(b) and signer == ev["signer"]
    if new: devices[new["id"]] = new["S"]
    if typ == 7: appendonly.add(new["id"])
    if typ == 8:
        assert obj not in snaps and obj not in forgotten, seq
        snaps[obj] = signer
    if typ == 9:
        for g in gone_snaps:
            assert g in snaps, seq
            del snaps[g]; forgotten.add(g)
    if typ == 10:
        assert obj not in plans, seq
        plans.add(obj)
    if typ == 3:
        del devices[gone]
        for x in sessions.values():
            if x[1] == gone: x[2] = True
    if typ == 11:
        web = bool(flag)
        if not web:
            for x in sessions.values(): x[2] = True
    if typ == 12: sessions[sid] = [bs, signer, False]
    if typ == 13: sessions[sid][2] = True
    if typ == 5: recovery = newrec
    prev = hashlib.sha256(b).digest()
    assert prev.hex() == ev["hash"]
print("ok: %d entries, head %s, epoch %d, devices %s, append-only %s, snapshots %s, plans %d, web %s, sessions %s" % (
    len(v["entries"]), prev.hex(), epoch, sorted(devices), sorted(appendonly),
    sorted((k.hex()[:8], a) for k, a in snaps.items()), len(plans), web,
    sorted((k[:8], "revoked" if x[2] else "active") for k, x in sessions.items())))
