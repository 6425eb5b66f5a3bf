#!/usr/bin/env python3
"""Independent reference for the retention goldens (docs/format.md §8.1).

Reads snapshots.txt and policies.txt and writes NAME.golden for each policy.
It shares no code with the Go implementation; the Go test compares against
its output. Run from this directory: python3 reference.py
"""
import datetime
import hashlib
import re


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


def add_date(t, years, months, days):
    """Go's time.AddDate: shift the fields, then normalise overflowing
    months and days (31 March less one month is 3 March)."""
    y, m = t.year + years, t.month + months
    y, m = y + (m - 1) // 12, (m - 1) % 12 + 1
    first = t.replace(year=y, month=m, day=1)
    return first + datetime.timedelta(days=t.day - 1 + days)


def within_limit(newest, within):
    y, mo, d, h = within
    return add_date(newest, -y, -mo, -d) - datetime.timedelta(hours=h)


def group_key(s, group_by):
    key = []
    if "host" in group_by:
        key.append(s["host"])
    if "paths" in group_by:
        key.append(tuple(sorted(s["paths"])))
    if "tags" in group_by:
        key.append(tuple(sorted(s["tags"])))
    return tuple(key)


def apply(snaps, counts, tags, within, group_by):
    order = sorted(snaps, key=lambda s: (s["time"], s["id"]))
    empty = all(c == 0 for c in counts) and not tags and not any(within)
    reasons = {}
    groups = {}
    for s in order:
        groups.setdefault(group_key(s, group_by), []).append(s)
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
        if any(within):
            limit = within_limit(newest_first[0]["time"], within)
            for s in newest_first:
                if s["time"] > limit:
                    reasons.setdefault(s["id"], []).append("within")
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


def parse_within(text):
    parts = {"y": 0, "m": 0, "d": 0, "h": 0}
    if text != "-":
        for number, unit in re.findall(r"(\d+)([ymdh])", text):
            parts[unit] = int(number)
    return (parts["y"], parts["m"], parts["d"], parts["h"])


def main():
    snaps = snapshots()
    for line in rows("policies.txt"):
        f = line.split()
        counts = [int(x) for x in f[1:7]]
        tags = [] if f[7] == "-" else f[7].split(",")
        within = parse_within(f[8] if len(f) > 8 else "-")
        group_by = ["host", "paths"]  # the snapshots here have one author
        if len(f) > 9:
            group_by = [] if f[9] == "-" else f[9].split(",")
        with open(f[0] + ".golden", "w", encoding="utf-8") as out:
            out.write("\n".join(apply(snaps, counts, tags, within, group_by)) + "\n")


main()
