#!/usr/bin/env bash
# bench/rebackup.sh: the unchanged re-backup, the backup users run every day, of two coffer
# binaries side by side, locally and through `coffer serve` on loopback (plain HTTP).
#
# Each binary gets its own server, home and stores, and makes one first backup of the corpus
# to each store. Then RUNS rounds follow; in each, every variant re-backs up the unchanged
# corpus once, in turn, so that load from other work on a shared machine falls on all alike.
# Variants: A and B through their server, B through its server with --no-cache, A and B on a
# local directory store. For each it prints the median, minimum and maximum wall time and
# CPU seconds, and through a server the requests, bytes sent and 429 answers of a run
# (from the server's request log).
#
# Environment:
#   A, B    the two coffer binaries (required; e.g. one built from main, one from a branch)
#   CORPUS  the corpus directory (required; bench/run.sh builds one)
#   RUNS    rounds (default 7)
#   WORK    scratch directory (default: a new one under ${TMPDIR:-/tmp})
set -euo pipefail
: "${A:?set A to a coffer binary}" "${B:?set B to a coffer binary}" "${CORPUS:?set CORPUS}"
RUNS=${RUNS:-7}
WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/coffer-rebackup.XXXXXX")}
mkdir -p "$WORK/runs"
export COFFER_PASSPHRASE=bench-coffer-passphrase
declare -A URL PID
log() { printf '%s\n' "$*" >&2; }

# serve X starts X's server and sets URL[X] and PID[X].
serve() {
  local x=$1 bin=${!1} logf=$WORK/$1.serve.log i
  "$bin" serve --data "$WORK/$x-serverdata" --listen 127.0.0.1:0 --insecure-http </dev/null >"$logf" 2>&1 &
  PID[$x]=$!
  for ((i = 0; i < 300; i++)); do
    URL[$x]=$(sed -n 's/^coffer: serving on \(http:[^ ]*\)$/\1/p' "$logf" | head -1)
    [[ -z ${URL[$x]} ]] || return 0
    sleep 0.1
  done
  log "no server for $x"
  return 1
}

# prepare X makes X's home, a local store and a server store, each with a first backup.
prepare() {
  local x=$1 bin=${!1}
  export COFFER_HOME=$WORK/$x-home
  "$bin" init --store "$WORK/$x-local" --json >/dev/null
  "$bin" backup "$CORPUS" --store "$WORK/$x-local" --json >/dev/null
  "$bin" init --store "${URL[$x]}" --json >/dev/null
  "$bin" backup "$CORPUS" --store "${URL[$x]}" --json >/dev/null
}

# run NAME X WHERE [FLAGS] times one re-backup by X's binary to WHERE (local or server),
# appending "seconds cpu requests sent 429s" to WORK/runs/NAME.
run() {
  local name=$1 x=$2 where=$3 bin=${!2} store lines=0 t0 t1
  shift 3
  export COFFER_HOME=$WORK/$x-home
  store=$WORK/$x-local
  [[ $where == local ]] || { store=${URL[$x]}; lines=$(wc -l <"$WORK/$x.serve.log"); }
  sync
  t0=$(date +%s.%N)
  /usr/bin/time -f '%U %S' -o "$WORK/time" "$bin" backup "$CORPUS" --store "$store" --json "$@" >/dev/null
  t1=$(date +%s.%N)
  local req=0 sent=0 tmr=0
  if [[ $where != local ]]; then
    sleep 0.2 # the server logs a request after answering it
    read -r req sent tmr < <(tail -n +$((lines + 1)) "$WORK/$x.serve.log" | awk '
      /"msg":"request"/ { n++; if (match($0, /"status":429[,}]/)) t++
        if (match($0, /"sent":[0-9]+/)) s += substr($0, RSTART + 7, RLENGTH - 7) }
      END { printf "%d %.0f %d\n", n, s, t }')
  fi
  awk -v a="$t0" -v b="$t1" -v r="$req" -v s="$sent" -v t="$tmr" '{ printf "%.3f %.2f %d %d %d\n", b - a, $1 + $2, r, s, t }' \
    "$WORK/time" >>"$WORK/runs/$name"
}

# stats NAME prints the median [min–max] of each column of WORK/runs/NAME.
stats() {
  local col out=""
  for col in 1 2 3 4 5; do
    out+=$(sort -g -k"$col,$col" "$WORK/runs/$1" | awk -v c="$col" '{ v[NR] = $c } END {
      m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf " | %.10g [%.10g–%.10g]", m, v[1], v[NR] }')
  done
  printf '| %s%s |\n' "$1" "$out"
}

cleanup() { for x in "${!PID[@]}"; do kill "${PID[$x]}" 2>/dev/null || true; done; }
trap cleanup EXIT
for x in A B; do serve "$x"; prepare "$x"; done
log "prepared in $WORK; $RUNS rounds"
for ((i = 1; i <= RUNS; i++)); do
  run A-server A server
  run B-server B server
  run B-server-nocache B server --no-cache
  run A-local A local
  run B-local B local
  log "round $i done"
done
echo "A=$A B=$B CORPUS=$CORPUS RUNS=$RUNS; load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo '| variant | wall s median [min–max] | CPU s | requests | bytes sent by the server | 429s |'
echo '| --- | --- | --- | --- | --- | --- |'
for n in A-server B-server B-server-nocache A-local B-local; do stats "$n"; done
