#!/usr/bin/env bash
# many.sh measures an unchanged re-backup when the store already holds many
# snapshots (issue 10: "the time and memory of an unchanged re-backup with
# 1,000 snapshots in the store"), on a local store and through `coffer serve`
# (TLS on loopback).
#
# It backs the corpus up once, adds SNAPS-1 snapshots of a small folder (real
# backups: each one is a device-chain entry, and through the server a
# transparency-log leaf), then times RUNS unchanged re-backups of the corpus
# and RUNS `snapshots`, giving the median and range of wall time and the
# largest peak RSS (GNU time). For comparison it times the same re-backup
# on a store holding the corpus snapshot alone.
#
#   SCALE=1 SNAPS=1000 RUNS=5 bench/many.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${SCALE:-1}
RUNS=${RUNS:-5}
SNAPS=${SNAPS:-1000}
CORPUS=${CORPUS:-${TMPDIR:-/tmp}/coffer-corpus-s$SCALE}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/coffer-many.XXXXXX")
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT

if [ ! -e "$CORPUS.complete" ]; then
  rm -rf "$CORPUS.building"
  ../shared/bench/make-corpus.sh "$CORPUS.building" "$SCALE" && mv "$CORPUS.building" "$CORPUS" && echo "scale=$SCALE" >"$CORPUS.complete"
fi
go build -o "$WORK/coffer" ./cmd/coffer
mkdir -p "$WORK/small" && echo small >"$WORK/small/f"
export COFFER_PASSPHRASE=bench

# run ROW ARGS... runs coffer for ROW (its own home and store).
run() {
  local row=$1
  shift
  COFFER_HOME=$WORK/home-$row "$WORK/coffer" "$@" --store "${STORE[$row]}" >/dev/null 2>>"$WORK/$row.err"
}

# timed ROW ARGS... appends "wall_seconds max_rss_kib" of one run to $WORK/t.
timed() {
  local row=$1
  shift
  COFFER_HOME=$WORK/home-$row /usr/bin/time -f '%e %M' -a -o "$WORK/t" \
    "$WORK/coffer" "$@" --store "${STORE[$row]}" >/dev/null 2>>"$WORK/$row.err"
}

# setup ROW N makes ROW's store with the corpus snapshot and N-1 small ones.
setup() {
  local row=$1 n=$2 i
  run "$row" init
  run "$row" backup "$CORPUS"
  for i in $(seq 2 "$n"); do run "$row" backup "$WORK/small"; done
}

# report ROW CMD times RUNS runs of CMD and prints one table row.
report() {
  local row=$1 n=$2
  shift 2
  : >"$WORK/t"
  for _ in $(seq "$RUNS"); do timed "$row" "$@"; done
  sort -n "$WORK/t" | awk -v row="$row" -v n="$n" -v cmd="$1" '
    { t[NR] = $1; if ($2 > m) m = $2 }
    END { printf "| %s | %d | %s | %.2f | %.2f–%.2f | %.0f |\n", row, n, cmd, t[int((NR + 1) / 2)], t[1], t[NR], m / 1024 }'
}

declare -A STORE
"$WORK/coffer" serve --data "$WORK/server" --listen 127.0.0.1:0 2>"$WORK/serve.log" & # TLS, as the other server figures
for _ in $(seq 100); do grep -q 'serving on' "$WORK/serve.log" && break; sleep 0.1; done
url=$(sed -n 's/.*serving on \(http[^ ]*\).*/\1/p' "$WORK/serve.log" | head -1)
STORE[local-1]=$WORK/store-1 STORE[local-many]=$WORK/store-many
STORE[server-1]=$url STORE[server-many]=$url
echo "| store | snapshots | command | median s | range s | peak RSS MiB |"
echo "| --- | --- | --- | --- | --- | --- |"
for where in local server; do
  setup "$where-1" 1
  setup "$where-many" "$SNAPS"
  for row in 1 many; do
    n=1
    [ "$row" = many ] && n=$SNAPS
    report "$where-$row" "$n" backup "$CORPUS"
    report "$where-$row" "$n" snapshots
  done
done
echo "corpus $CORPUS ($(du -sh "$CORPUS" | cut -f1)), $RUNS runs each, $(git rev-parse --short HEAD)$(git diff --quiet || echo +dirty), load $(cut -d' ' -f1-3 /proc/loadavg)"
