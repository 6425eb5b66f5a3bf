#!/usr/bin/env python3
"""Independent reference for the retention goldens (docs/format.md §8.1).

Reads snapshots.txt and policies.txt and writes NAME.golden for each policy.
It shares no code with the Go implementation; the Go test compares against
its output. Run from this directory: python3 reference.py
"""
import datetime
import hashlib


def rows(name):
    with open(name, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line and not line.startswith("#"):
                yield line


def snapshots():
    out = []
    for line in rows("snapshots.txt"):
        t, host, paths, tags = line.split()
        out.append({
            "id": hashlib.sha256(line.encode()).digest(),
            "time": datetime.datetime.fromisoformat(t.replace("Z", "+00:00")),
            "text": t, "host": host, "paths": paths.split(","),
            "tags": [] if tags == "-" else tags.split(","),
        })
    return out


PERIODS = [
    ("last", None),
    ("hourly", lambda t: (t.year, t.month, t.day, t.hour)),
    ("daily", lambda t: (t.year, t.month, t.day)),
    ("weekly", lambda t: tuple(t.isocalendar())[:2]),
    ("monthly", lambda t: (t.year, t.month)),
    ("yearly", lambda t: t.year),
]


def apply(snaps, counts, tags):
    order = sorted(snaps, key=lambda s: (s["time"], s["id"]))
    empty = all(c == 0 for c in counts) and not tags
    reasons = {}
    groups = {}
    for s in order:
        groups.setdefault((s["host"], tuple(sorted(s["paths"]))), []).append(s)
    for members in groups.values():
        newest_first = list(reversed(members))
        for (name, period), count in zip(PERIODS, counts):
            if count == 0:
                continue
            chosen, seen = [], set()
            for rank, s in enumerate(newest_first):
                key = rank if period is None else period(s["time"])
                # newest of each period, periods in order of recency
                if key in seen:
                    continue
                seen.add(key)
                chosen.append(s)
            if count > 0:
                chosen = chosen[:count]
            for s in chosen:
                reasons.setdefault(s["id"], []).append(name)
    for s in order:
        for t in tags:
            if t in s["tags"]:
                reasons.setdefault(s["id"], []).append("tag:" + t)
    lines = []
    for s in order:
        head = "%s %s %s %s" % (s["id"].hex()[:8], s["text"], s["host"], ",".join(s["paths"]))
        if empty or s["id"] in reasons:
            lines.append("keep   %s %s" % (head, ",".join(reasons.get(s["id"], []))))
        else:
            lines.append("remove %s" % head)
    return lines


def main():
    snaps = snapshots()
    for line in rows("policies.txt"):
        f = line.split()
        counts = [int(x) for x in f[1:7]]
        tags = [] if f[7] == "-" else f[7].split(",")
        with open(f[0] + ".golden", "w", encoding="utf-8") as out:
            out.write("\n".join(apply(snaps, counts, tags)) + "\n")


main()
