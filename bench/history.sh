#!/usr/bin/env bash
# history.sh measures what authenticated snapshot authorship and freshness
# (docs/format.md §8.4: a device-chain entry per backup, snapshots read
# through the chain) cost on the commands users run most: `snapshots` and
# an unchanged re-backup, on a local store and through `coffer serve`.
#
# It builds coffer at BASE (default: the last commit before the history
# entries) and at the work tree, makes one store per binary and row, backs
# the corpus up once, adds SNAPS-1 more snapshots (each backup of a small
# folder), then times RUNS unchanged re-backups of the corpus and RUNS
# `snapshots`, alternating the two binaries so that machine load falls on
# both alike, and prints the medians and the ratio current / base.
#
#   SCALE=1 bench/history.sh          # corpus scale (make-corpus.sh)
#   RUNS=9 SNAPS=50 BASE=27dddf9 bench/history.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${SCALE:-1}
RUNS=${RUNS:-7}
SNAPS=${SNAPS:-30}
BASE=${BASE:-27dddf9}
CORPUS=${CORPUS:-${TMPDIR:-/tmp}/coffer-corpus-s$SCALE}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/coffer-history.XXXXXX")
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT

if [ ! -e "$CORPUS.complete" ]; then
  rm -rf "$CORPUS.building"
  ../shared/bench/make-corpus.sh "$CORPUS.building" "$SCALE" && mv "$CORPUS.building" "$CORPUS" && touch "$CORPUS.complete"
fi
git worktree add -q --detach "$WORK/base-src" "$BASE"
(cd "$WORK/base-src" && go build -o "$WORK/base" ./cmd/coffer)
git worktree remove --force "$WORK/base-src"
go build -o "$WORK/current" ./cmd/coffer
mkdir -p "$WORK/small" && echo small >"$WORK/small/f"
export COFFER_PASSPHRASE=bench

# now prints the time in seconds with nanoseconds.
now() { date +%s.%N; }

# timed BIN ROW ARGS... runs coffer and prints its wall time in seconds.
timed() {
  local bin=$1 row=$2 t0
  shift 2
  t0=$(now)
  COFFER_HOME=$WORK/home-$bin-$row "$WORK/$bin" "$@" --store "${STORE[$bin-$row]}" >/dev/null 2>>"$WORK/$bin-$row.err"
  echo "$(now) - $t0" | bc
}

# setup BIN ROW makes the store with SNAPS snapshots.
setup() {
  local bin=$1 row=$2 i
  COFFER_HOME=$WORK/home-$bin-$row "$WORK/$bin" init --store "${STORE[$bin-$row]}" >/dev/null
  timed "$bin" "$row" backup "$CORPUS" >/dev/null
  for i in $(seq 2 "$SNAPS"); do timed "$bin" "$row" backup "$WORK/small" >/dev/null; done
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

declare -A STORE
"$WORK/current" serve --data "$WORK/server" --listen 127.0.0.1:0 --insecure-http --rate 0 2>"$WORK/serve.log" &
for _ in $(seq 100); do grep -q 'serving on' "$WORK/serve.log" && break; sleep 0.1; done
url=$(sed -n 's/.*serving on \(http[^ ]*\).*/\1/p' "$WORK/serve.log" | head -1)
for bin in base current; do
  STORE[$bin-local]=$WORK/store-$bin
  STORE[$bin-server]=$url
  for row in local server; do setup "$bin" "$row"; done
done
echo "| row | command | base s | current s | current / base |"
echo "| --- | --- | --- | --- | --- |"
for row in local server; do
  for cmd in "backup $CORPUS" snapshots; do
    for bin in base current; do : >"$WORK/t-$bin"; done
    for _ in $(seq "$RUNS"); do
      for bin in base current; do timed "$bin" "$row" $cmd >>"$WORK/t-$bin"; done
    done
    b=$(median <"$WORK/t-base") c=$(median <"$WORK/t-current")
    printf '| %s | %s | %.3f | %.3f | %.3f |\n' "$row" "${cmd%% *}" "$b" "$c" "$(echo "$c / $b" | bc -l)"
  done
done
echo "corpus $CORPUS ($(du -sh "$CORPUS" | cut -f1)), $SNAPS snapshots, $RUNS runs each, base $BASE, current $(git rev-parse --short HEAD)$(git diff --quiet || echo +dirty)"
