#!/usr/bin/env bash
# bench/run.sh: compares Coffer with restic and Kopia on the shared benchmark corpus.
#
# For each tool, on the same corpus and with a fresh store on the same filesystem, it
# measures wall time and peak memory (max RSS, GNU time) of init + first backup (init also
# alone, so a slow KDF shows), an unchanged re-backup and a full restore into an empty dir,
# checks the restored tree against the corpus, and reports the store size. Coffer runs twice:
# on a local store and against `coffer serve` on loopback (TLS, as issue 10's targets say; the
# client pins the server's self-made certificate from the URL it prints), whose peak RSS, and the
# requests and bytes of each step, are also reported. Kopia is built from its public module
# outside the repository (or skipped with a note). Each tool's whole sequence runs RUNS times,
# interleaved round by round, each run on a fresh store; the table shows medians (peak memory: the
# maximum over the runs), a second table the spread. The ratios of issue 10's targets follow.
# See README.md.
#
# Environment:
#   RUNS    runs of each tool's sequence, interleaved round by round (default 3)
#   TOOLS   rows to run, among coffer coffer-server restic kopia (default: all four)
#   SCALE   corpus scale given to make-corpus.sh (default 4, about 1 GiB)
#   CORPUS  corpus directory (default ${TMPDIR:-/tmp}/coffer-corpus-s$SCALE); built once and
#           reused while the marker file "$CORPUS.complete" says it is complete
#   WORK    scratch directory for binaries, stores, restores and logs (default: a new
#           directory beside the corpus, so stores are on the corpus's filesystem); with RUNS > 1
#           each run's files are in WORK/run1, WORK/run2, ...
#   KEEP=1  keep the stores and restored trees in WORK (by default only logs and results stay)
#   COFFER_BIN  an already built coffer binary to measure instead of building ./cmd/coffer
#   STEP_TIMEOUT  seconds after which one measured step is killed and reported (default 900)
#   SERVE_ARGS  extra flags for `coffer serve`, split on spaces (e.g. "--rate 0")
#   SERVE_HTTP=1  serve plain HTTP (--insecure-http) instead of TLS, to see what TLS costs
#   KOPIA_BIN   a kopia binary to measure; otherwise `kopia` on PATH, otherwise one built with
#               `go install -tags nohtmlui github.com/kopia/kopia@$KOPIA_VERSION` (default latest)
#               into KOPIA_DIR (default: kopia-bin beside the corpus, outside the repository)
#   KOPIA_SRC   a checkout of Kopia's public source to build with `go build -tags nohtmlui .` into
#               KOPIA_DIR instead of `go install` (where the module proxy refuses Kopia but a copy
#               of its repository can be had, e.g. the tool library's `fetch github:kopia/kopia`)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
make_corpus=$repo/../shared/bench/make-corpus.sh
SCALE=${SCALE:-4}
CORPUS=${CORPUS:-${TMPDIR:-/tmp}/coffer-corpus-s$SCALE}
CORPUS=$(realpath -m "$CORPUS")
marker=$CORPUS.complete
# Throwaway secrets for throwaway stores; they are never printed.
export RESTIC_PASSWORD=bench-restic-password COFFER_PASSPHRASE=bench-coffer-passphrase
export KOPIA_PASSWORD=bench-kopia-password KOPIA_CHECK_FOR_UPDATES=false

log() { printf '%s\n' "$*" >&2; }
die() { log "run.sh: $*"; exit 1; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
maxf() { printf '%s\n' "$@" | sort -g | tail -1; }

# ensure_corpus builds the corpus into a side directory and moves it into place with its
# marker only on success, so an interrupted build is never mistaken for a complete one.
ensure_corpus() {
  if [[ -f $marker ]]; then
    [[ $(cat "$marker") == "scale=$SCALE" ]] || die "$CORPUS was built with $(cat "$marker"), not scale=$SCALE"
    log "corpus: reusing $CORPUS ($(cat "$marker"))"
    return
  fi
  [[ ! -e $CORPUS ]] || die "$CORPUS exists but has no marker $marker; remove it or choose another CORPUS"
  [[ -x $make_corpus ]] || die "missing $make_corpus (the shared folder beside the checkout)"
  local tmp=$CORPUS.building t0
  rm -rf "$tmp"
  log "corpus: building $CORPUS at SCALE=$SCALE"
  t0=$(now)
  "$make_corpus" "$tmp" "$SCALE" >&2
  mv "$tmp" "$CORPUS"
  touch -h -d '2025-02-10 12:00:00' "$CORPUS" # as make-corpus.sh leaves every entry
  echo "scale=$SCALE" >"$marker"
  log "corpus: built in $(secs "$t0" "$(now)") s"
}

ensure_tools() {
  if ! command -v restic >/dev/null; then
    apt-get install -y restic >&2 || { apt-get update >&2 && apt-get install -y restic >&2; }
  fi
  if [[ ! -x /usr/bin/time ]]; then
    apt-get install -y time >&2 || { apt-get update >&2 && apt-get install -y time >&2; }
  fi
}

# warm reads every corpus file so both tools start from the same warm page cache.
warm() { find "$CORPUS" -type f -print0 | xargs -0 -P 2 -n 256 cat >/dev/null; }

# measure TOOL STEP CMD... runs CMD under GNU time, recording TOOL.STEP.s (wall seconds),
# TOOL.STEP.cpu (user + system seconds) and TOOL.STEP.mib (peak RSS); output goes to
# RD/TOOL.STEP.{out,err,time} (RD: the directory of this run, see run_rounds). It syncs first so
# writeback left by an earlier step is not charged to this one.
declare -A R
measure() {
  local tool=$1 step=$2 t0 rc=0 lines=0
  shift 2
  local base=$RD/$tool.$step
  [[ $tool != coffer-server ]] || lines=$(wc -l <"$RD/coffer-server.serve.log")
  sync
  t0=$(now)
  /usr/bin/time -v -o "$base.time" timeout "${STEP_TIMEOUT:-900}" "$@" <"/dev/null" >"$base.out" 2>"$base.err" || rc=$?
  R[$tool.$step.s]=$(secs "$t0" "$(now)")
  [[ $tool != coffer-server ]] || server_step "$step" "$lines"
  R[$tool.$step.mib]=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$base.time")
  R[$tool.$step.cpu]=$(awk -F': ' '/(User|System) time/ { t += $2 } END { printf "%.2f", t }' "$base.time")
  if ((rc != 0)); then
    R[$tool.status]="FAILED at $step (exit $rc): $(head -c 300 "$base.err" | tr '\n|' ' /')"
    log "$tool: ${R[$tool.status]} (logs: $base.*)"
    return 1
  fi
}

# server_step STEP LINES reads the server's log after its first LINES lines (the requests of
# STEP, logged as JSON lines with their status and the body bytes received and sent) into
# R[coffer-server.STEP.requests|429|sent|received] (bytes).
server_step() {
  local f
  f=$(tail -n +$(($2 + 1)) "$RD/coffer-server.serve.log" | awk '
    /"msg":"request"/ {
      n++
      if (match($0, /"status":429[,}]/)) t++
      if (match($0, /"sent":[0-9]+/)) s += substr($0, RSTART + 7, RLENGTH - 7)
      if (match($0, /"received":[0-9]+/)) r += substr($0, RSTART + 11, RLENGTH - 11)
    }
    END { printf "%d %d %.0f %.0f", n, t, s, r }')
  read -r "R[coffer-server.$1.requests]" "R[coffer-server.$1.429]" "R[coffer-server.$1.sent]" "R[coffer-server.$1.received]" <<<"$f"
}

# manifest prints one line per entry of a tree (type, mode, owner, mtime, size of
# non-directories, symlink target, path) followed by the sha256 of every regular file.
manifest() {
  (
    cd "$1"
    find . -printf '%y %m %U:%G %T@ %s %l %p\n' | awk '$1 == "d" { $5 = "-" } { print }' | LC_ALL=C sort
    find . -type f -print0 | xargs -0 -P 2 -n 256 sha256sum | LC_ALL=C sort
  )
}

# verify TOOL DIR compares the restored tree under DIR with the corpus.
verify() {
  local tool=$1 target=$2 root
  for root in "$target$CORPUS" "$target/$(basename "$CORPUS")" "$target"; do
    [[ -d $root/src ]] && break
  done
  manifest "$root" >"$RD/$tool.restored.manifest"
  if cmp -s "$WORK/corpus.manifest" "$RD/$tool.restored.manifest"; then
    R[$tool.check]=OK
  else
    diff "$WORK/corpus.manifest" "$RD/$tool.restored.manifest" >"$RD/$tool.restore.diff" || true
    R[$tool.check]="MISMATCH ($(grep -c '^[<>]' "$RD/$tool.restore.diff") lines differ, see $RD/$tool.restore.diff)"
  fi
  log "$tool: restore check ${R[$tool.check]} (restored root $root)"
}

run_restic() {
  local store=$RD/restic-store target=$RD/restic-restore
  export RESTIC_CACHE_DIR=$RD/restic-cache
  measure restic init restic init --repo "$store" || return 1
  measure restic backup restic -r "$store" backup --host bench "$CORPUS" || return 1
  measure restic rebackup restic -r "$store" backup --host bench "$CORPUS" || return 1
  mkdir "$target" || return 1
  measure restic restore restic -r "$store" restore latest --target "$target" || return 1
  finish restic "$store" "$target" "$RESTIC_CACHE_DIR"
}

# ensure_kopia sets KOPIA to a kopia binary: KOPIA_BIN, else `kopia` on PATH, else one built from
# its public Go module into KOPIA_DIR, outside the repository. When none can be had, Kopia's row
# says why and the other rows still run.
KOPIA='' kopia_version=''
ensure_kopia() {
  local dir=${KOPIA_DIR:-$(dirname "$CORPUS")/kopia-bin}
  if [[ -n ${KOPIA_BIN:-} ]]; then
    KOPIA=$KOPIA_BIN
  elif command -v kopia >/dev/null; then
    KOPIA=$(command -v kopia)
  elif [[ -x $dir/kopia ]]; then
    KOPIA=$dir/kopia
  elif [[ -n ${KOPIA_SRC:-} ]]; then
    log "kopia: building $KOPIA_SRC into $dir"
    mkdir -p "$dir"
    if (cd "$KOPIA_SRC" && GOFLAGS='' go build -tags nohtmlui -o "$dir/kopia" .) >"$dir/install.log" 2>&1; then
      KOPIA=$dir/kopia
    else
      R[kopia.status]="SKIPPED: kopia could not be built from $KOPIA_SRC ($(tail -n 2 "$dir/install.log" | head -c 300 | tr '\n\t|' '  /'))"
      log "kopia: ${R[kopia.status]}"
      return 0
    fi
  else
    log "kopia: building github.com/kopia/kopia@${KOPIA_VERSION:-latest} into $dir"
    mkdir -p "$dir"
    if (cd "$dir" && GOFLAGS='' GOBIN=$dir go install -tags nohtmlui "github.com/kopia/kopia@${KOPIA_VERSION:-latest}") >"$dir/install.log" 2>&1; then
      KOPIA=$dir/kopia
    else
      R[kopia.status]="SKIPPED: kopia could not be built ($(tail -n 2 "$dir/install.log" | head -c 300 | tr '\n\t|' '  /'))"
      log "kopia: ${R[kopia.status]}"
      return 0
    fi
  fi
  kopia_version=$("$KOPIA" --version 2>/dev/null | head -1 || true)
}

# run_kopia measures Kopia with default settings on a filesystem repository, its configuration,
# cache and logs kept in RD (the cache is not counted in the store).
run_kopia() {
  [[ -n $KOPIA ]] || return 1
  local store=$RD/kopia-store target=$RD/kopia-restore id
  local k=("$KOPIA" --config-file "$RD/kopia.config" --log-dir "$RD/kopia-logs")
  measure kopia init "${k[@]}" repository create filesystem --path "$store" --cache-directory "$RD/kopia-cache" || return 1
  measure kopia backup "${k[@]}" snapshot create "$CORPUS" || return 1
  measure kopia rebackup "${k[@]}" snapshot create "$CORPUS" || return 1
  id=$("${k[@]}" snapshot list "$CORPUS" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[-1]["id"])') || {
    R[kopia.status]="FAILED: no snapshot ID from kopia snapshot list"
    return 1
  }
  mkdir "$target" || return 1
  measure kopia restore "${k[@]}" restore "$id" "$target" || return 1
  finish kopia "$store" "$target" "$RD/kopia-cache"
}

# build_coffer builds the CLI (or copies COFFER_BIN) before the corpus is warmed, so the
# build cannot evict it.
build_coffer() {
  if [[ -n ${COFFER_BIN:-} ]]; then
    cp "$COFFER_BIN" "$WORK/coffer"
    return
  fi
  measure coffer build go -C "$repo" build -o "$WORK/coffer" ./cmd/coffer || rm -f "$WORK/coffer"
}

# coffer_steps TOOL STORE measures coffer's init, first backup, unchanged re-backup and
# restore (into RD/TOOL-restore) against STORE, with a fresh RD/TOOL-home for its keys.
coffer_steps() {
  local tool=$1 store=$2 target=$RD/$1-restore coffer=$WORK/coffer
  export COFFER_HOME=$RD/$tool-home
  have_coffer "$tool" || return 1
  measure "$tool" init "$coffer" init --store "$store" --json || return 1
  grep -q '"recovery_key"' "$RD/$tool.init.out" || {
    R[$tool.status]="FAILED at init: output has no recovery_key"
    return 1
  }
  measure "$tool" backup "$coffer" backup "$CORPUS" --store "$store" --json || return 1
  measure "$tool" rebackup "$coffer" backup "$CORPUS" --store "$store" --json || return 1
  mkdir "$target" || return 1
  measure "$tool" restore "$coffer" restore latest --target "$target" --store "$store" || return 1
}

# have_coffer TOOL fails, saying so in TOOL's status, when coffer did not build.
have_coffer() {
  [[ -x $WORK/coffer ]] && return 0
  R[$1.status]=${R[$1.status]:-"FAILED: no coffer binary (see $WORK/coffer.build.err)"}
  return 1
}

run_coffer() {
  coffer_steps coffer "$RD/coffer-store" || return 1
  finish coffer "$RD/coffer-store" "$RD/coffer-restore"
}

# run_coffer_server measures coffer against a fresh `coffer serve` on loopback. The server is
# stopped (and its peak RSS and CPU read) whether or not the steps succeed; the EXIT trap in
# main stops it if the script dies first.
run_coffer_server() {
  local tool=coffer-server data=$RD/coffer-server-data rc=0
  have_coffer "$tool" || return 1
  start_server "$data" || {
    R[$tool.status]="FAILED to start coffer serve: $(head -c 300 "$RD/$tool.serve.log" | tr '\n|' ' /')"
    stop_server
    return 1
  }
  log "$tool: server $SERVER_URL (pid $SERVER_PID, log $RD/$tool.serve.log)"
  coffer_steps "$tool" "$SERVER_URL" || rc=$?
  stop_server
  ((rc == 0)) || return 1
  finish "$tool" "$data" "$RD/$tool-restore"
}

# start_server starts `coffer serve` with a fresh data dir DIR on a free loopback port, sets
# SERVER_PID, waits until /healthz answers and sets SERVER_URL to the client URL the server
# printed. It runs in the main shell (not in $(...)) so that stop_server can wait for the server.
SERVER_PID='' SERVER_URL=''
start_server() {
  local data=$1 logf=$RD/coffer-server.serve.log url i
  rm -rf "$data"
  local tls=()
  [[ ${SERVE_HTTP:-0} != 1 ]] || tls=(--insecure-http)
  # shellcheck disable=SC2086 # SERVE_ARGS is a list of flags
  "$WORK/coffer" serve --data "$data" --listen 127.0.0.1:0 "${tls[@]}" ${SERVE_ARGS:-} </dev/null >"$logf" 2>&1 &
  SERVER_PID=$!
  for ((i = 0; i < 300; i++)); do # 30 s
    kill -0 "$SERVER_PID" 2>/dev/null || return 1
    url=$(sed -n 's/^coffer: serving on \(https\{0,1\}:[^ ]*\)$/\1/p' "$logf" | head -1)
    # The pin after # is the client's check of the certificate; curl only asks whether it is up.
    if [[ -n $url ]] && curl -kfsS --max-time 2 "${url%%#*}/healthz" >/dev/null 2>&1; then
      SERVER_URL=$url
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# stop_server records the server's peak RSS (VmHWM) and CPU seconds, sends SIGTERM, waits for
# it to exit (SIGKILL after 40 s; its own grace period is 30 s) and records its exit status.
stop_server() {
  local pid=$SERVER_PID t=coffer-server i rc=0
  [[ -n $pid ]] || return 0
  SERVER_PID=
  if [[ -r /proc/$pid/status ]]; then
    R[$t.server.mib]=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
    R[$t.server.cpu]=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$pid/stat")
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 400; i++)); do # a zombie still answers kill -0, so look at its state
    [[ -r /proc/$pid/stat && $(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) != Z ]] || break
    sleep 0.1
  done
  if ((i == 400)); then
    log "coffer-server: still running 40 s after SIGTERM; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || rc=$?
  R[$t.server.exit]=$rc
  R[$t.server.requests]=$(grep -c '"msg":"request"' "$RD/$t.serve.log" 2>/dev/null || true)
  R[$t.server.statuses]=$(grep -o '"msg":"request".*"status":[0-9]*' "$RD/$t.serve.log" 2>/dev/null |
    sed 's/.*"status"://' | sort | uniq -c | awk '{ printf "%s%s x%s", sep, $2, $1; sep = ", " }' || true)
  log "coffer-server: stopped (exit $rc), peak RSS ${R[$t.server.mib]:-?} MiB"
}

# finish TOOL STORE TARGET [CACHE...] records the store size and the init+backup figures,
# verifies the restore and drops the big trees unless KEEP=1.
finish() {
  local tool=$1 store=$2 target=$3
  R[$tool.initbackup.s]=$(awk -v a="${R[$tool.init.s]}" -v b="${R[$tool.backup.s]}" 'BEGIN { printf "%.2f", a + b }')
  R[$tool.initbackup.mib]=$(maxf "${R[$tool.init.mib]}" "${R[$tool.backup.mib]}")
  R[$tool.store]=$(mib "$(du -sb "$store" | cut -f1)")
  verify "$tool" "$target"
  R[$tool.status]=ok
  [[ ${KEEP:-} == 1 ]] || rm -rf "${@:2}"
}

# Runs. While a tool runs, R holds its figures of that run; save_run then moves them to
# RR[RUN:TOOL.KEY], and aggregate puts the medians back in R, with R[TOOL.KEY.min|max].
declare -A RR
RUNS=${RUNS:-3}
ALL_TOOLS="coffer coffer-server restic kopia"
TOOLS=${TOOLS:-$ALL_TOOLS}
selected=()

# check_settings fails on a RUNS that is not a positive count or a TOOLS entry that is not a row,
# and sets selected to the chosen rows, once each, in the table's order.
check_settings() {
  [[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive whole number, not '$RUNS'"
  local t u
  for u in $TOOLS; do
    [[ " $ALL_TOOLS " == *" $u "* ]] || die "TOOLS: unknown row '$u' (rows: $ALL_TOOLS)"
  done
  for t in $ALL_TOOLS; do
    for u in $TOOLS; do
      [[ $u != "$t" ]] || { selected+=("$t") && break; }
    done
  done
  ((${#selected[@]})) || die "TOOLS is empty (rows: $ALL_TOOLS)"
}

# is_selected TOOL succeeds when TOOL's row was chosen with TOOLS.
is_selected() { [[ " ${selected[*]} " == *" $1 "* ]]; }

# save_run RUN TOOL moves TOOL's figures of this run from R to RR[RUN:TOOL.KEY], after adding
# TOOL.peak.mib (the largest peak RSS of its steps and of the server) and, when the run stopped
# without saying why, a status that points at its logs.
save_run() {
  local run=$1 t=$2 k peaks=()
  for k in init backup rebackup restore server; do
    [[ -z ${R[$t.$k.mib]:-} ]] || peaks+=("${R[$t.$k.mib]}")
  done
  ((${#peaks[@]} == 0)) || R[$t.peak.mib]=$(maxf "${peaks[@]}")
  R[$t.status]=${R[$t.status]:-"FAILED (see the logs in $RD)"}
  for k in "${!R[@]}"; do
    [[ $k == "$t".* ]] || continue
    RR[$run:$k]=${R[$k]}
    unset "R[$k]"
  done
}

# aggregate TOOL sets R[TOOL.KEY] from TOOL's runs: for each figure the median over the runs that
# have it (for peak memory, *.mib, and the server's exit status: the maximum) and its range in
# R[TOOL.KEY.min|max]; the status and restore check of the first run that failed, if one did;
# the server's requests by status of every run. A tool that never ran keeps its R as it is.
aggregate() {
  local t=$1 k
  local -A keys=()
  for k in "${!RR[@]}"; do
    [[ ${k#*:} != "$t".* ]] || keys[${k#*:}]=1
  done
  for k in "${!keys[@]}"; do
    case ${k#"$t".} in
      status) R[$k]=$(first_bad "$k" ok) ;;
      check) R[$k]=$(first_bad "$k" OK) ;;
      server.statuses) R[$k]=$(per_run "$k") ;;
      *) figure "$k" ;;
    esac
  done
}

# first_bad KEY GOOD prints GOOD when every run that has KEY has GOOD there, else the first other
# value, prefixed with its run when there are several.
first_bad() {
  local r v
  for ((r = 1; r <= RUNS; r++)); do
    v=${RR[$r:$1]:-$2}
    [[ $v == "$2" ]] && continue
    if ((RUNS > 1)); then echo "run $r of $RUNS: $v"; else echo "$v"; fi
    return
  done
  echo "$2"
}

# per_run KEY prints KEY's value when all runs agree, else "run 1: V; run 2: V; ...".
per_run() {
  local r out='' first=${RR[1:$1]:-} same=1
  for ((r = 1; r <= RUNS; r++)); do
    [[ ${RR[$r:$1]:-} == "$first" ]] || same=0
    out+="${out:+; }run $r: ${RR[$r:$1]:-}"
  done
  if ((same)); then echo "$first"; else echo "$out"; fi
}

# figure TOOL.KEY sets R[TOOL.KEY] to the median of KEY over the runs that have it (the maximum
# for peak memory and the server's exit status) and R[TOOL.KEY.min] and R[TOOL.KEY.max].
figure() {
  local k=$1 r how=median vals=()
  for ((r = 1; r <= RUNS; r++)); do
    [[ -z ${RR[$r:$k]:-} ]] || vals+=("${RR[$r:$k]}")
  done
  ((${#vals[@]})) || return 0
  [[ $k != *.mib && $k != *.server.exit ]] || how=max
  read -r "R[$k]" "R[$k.min]" "R[$k.max]" <<<"$(stats "$how" "${vals[@]}")"
}

# stats HOW VALUE... prints the median (HOW=median; of an even count, the mean of the middle
# two) or the maximum (HOW=max), the minimum and the maximum of the values, each with as many
# decimals as the most precise value has (so one run's figure is printed as it was measured),
# and a median that falls between two such values with one more.
stats() {
  local how=$1
  shift
  printf '%s\n' "$@" | sort -g | awk -v how="$how" '
    { v[NR] = $1; p = index($1, "."); if (p && length($1) - p > dec) dec = length($1) - p }
    END {
      m = how == "max" ? v[NR] : (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)
      f = sprintf("%%.%df", dec)
      g = (sprintf(f, m) - m > 1e-9 || m - sprintf(f, m) > 1e-9) ? sprintf("%%.%df", dec + 1) : f
      printf g " " f " " f "\n", m, v[1], v[NR]
    }'
}

# succeeded TOOL succeeds when every run of TOOL did.
succeeded() { [[ ${R[$1.status]:-} == ok ]]; }

# over_runs PREFIX SUFFIX prints, with several runs, how the figures that follow were drawn from
# them, between PREFIX and SUFFIX.
over_runs() { ((RUNS == 1)) || printf '%smedians of %s runs, peak memory the maximum over them%s' "$1" "$RUNS" "${2:-}"; }

# label TOOL is the tool's name in the table and the JSON.
label() { if [[ $1 == coffer-server ]]; then echo "coffer (server)"; else echo "$1"; fi; }

# row TOOL prints the tool's Markdown row; a failed tool shows its failure in place of figures.
row() {
  local t=$1
  if [[ ${R[$t.status]:-} != ok ]]; then
    printf '| %s | %s ||||||||||\n' "$(label "$t")" "${R[$t.status]:-not run}"
    return
  fi
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$(label "$t")" "${R[$t.initbackup.s]}" \
    "${R[$t.initbackup.mib]}" "${R[$t.rebackup.s]}" "${R[$t.rebackup.mib]}" "${R[$t.restore.s]}" \
    "${R[$t.restore.mib]}" "${R[$t.store]}" "${R[$t.server.mib]:--}" "${R[$t.init.s]}" "${R[$t.check]}"
}

# spread TOOL prints the tool's Markdown row of the spread table: min–max over the runs of each
# timed figure, of the store and of the peak RSS over all steps.
spread() {
  local t=$1 k out=
  if ! succeeded "$t"; then
    printf '| %s | %s |||||||\n' "$(label "$t")" "${R[$t.status]:-not run}"
    return
  fi
  for k in initbackup.s backup.s rebackup.s restore.s init.s store peak.mib; do
    out+=" ${R[$t.$k.min]}–${R[$t.$k.max]} |"
  done
  printf '| %s |%s\n' "$(label "$t")" "$out"
}

# spread_table prints, with several runs, the spread of each row's figures.
spread_table() {
  local t
  ((RUNS > 1)) || return 0
  echo
  echo "Spread over the $RUNS runs (min–max; the table above shows the medians, and for MiB the maximum):"
  echo
  echo '| tool | init+backup s | backup s | re-backup s | restore s | init s | store MiB | MiB peak, any step |'
  echo '| --- | --- | --- | --- | --- | --- | --- | --- |'
  for t in "${selected[@]}"; do spread "$t"; done
}

json_str() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$(printf '%s' "$s" | tr -d '\000-\037')"; }
json_num() { if [[ -n ${1:-} ]]; then printf '%s' "$1"; else printf null; fi; }

# FIGS are the figures of a row in the JSON, as TOOL.KEY suffixes (see json_figs).
FIGS="initbackup.s initbackup.mib init.s init.cpu init.mib backup.s backup.cpu backup.mib
  rebackup.s rebackup.cpu rebackup.mib restore.s restore.cpu restore.mib
  server.mib server.cpu server.exit server.requests
  init.requests init.sent init.received backup.requests backup.sent backup.received
  rebackup.requests rebackup.sent rebackup.received restore.requests restore.sent restore.received
  store peak.mib"

# json_figs ARRAY PREFIX SUFFIX prints, comma-separated, "NAME": ARRAY[PREFIX KEY SUFFIX] (null
# when absent) for every KEY in FIGS, NAME being KEY with its first dot an underscore (store:
# store_mib).
json_figs() {
  local -n a=$1
  local k n sep=
  for k in $FIGS; do
    n=${k/./_}
    [[ $k != store ]] || n=store_mib
    printf '%s"%s": %s' "$sep" "$n" "$(json_num "${a[$2$k$3]:-}")"
    sep=', '
  done
}

# json_row TOOL prints the tool's JSON object: its status and figures over all runs (medians;
# peaks: maxima), their minima and maxima, and each run's own.
json_row() {
  local t=$1 r
  printf '    {"tool": %s, "status": %s, ' "$(json_str "$(label "$t")")" "$(json_str "${R[$t.status]:-not run}")"
  json_figs R "$t." ""
  printf ', "restore_check": %s, "server_statuses": %s,\n      "min": {' "$(json_str "${R[$t.check]:-}")" \
    "$(json_str "${R[$t.server.statuses]:-}")"
  json_figs R "$t." .min
  printf '},\n      "max": {'
  json_figs R "$t." .max
  printf '},\n      "runs": ['
  if [[ -n ${RR[1:$t.status]:-} ]]; then # a tool runs in every round or in none
    for ((r = 1; r <= RUNS; r++)); do
      ((r == 1)) || printf ','
      json_run "$t" "$r"
    done
  fi
  printf '\n      ]}'
}

# json_run TOOL RUN prints the JSON object of one run of the tool.
json_run() {
  printf '\n        {"run": %s, "status": %s, ' "$2" "$(json_str "${RR[$2:$1.status]}")"
  json_figs RR "$2:$1." ""
  printf ', "restore_check": %s, "server_statuses": %s}' "$(json_str "${RR[$2:$1.check]:-}")" \
    "$(json_str "${RR[$2:$1.server.statuses]:-}")"
}

# targets prints Coffer's figures against the goals in README.md (meant for SCALE=4).
targets() {
  [[ ${R[coffer.status]:-} == ok ]] || return 0
  local peak
  peak=$(maxf "${R[coffer.init.mib]}" "${R[coffer.backup.mib]}" "${R[coffer.rebackup.mib]}" "${R[coffer.restore.mib]}")
  echo
  echo "Coffer against its targets (meant for SCALE=4 on 2 cores; this run: SCALE=$SCALE, $(nproc) cores$(over_runs '; ')):"
  check "first backup (without init) < 2 s" "${R[coffer.backup.s]}" 2
  check "unchanged re-backup < 0.5 s" "${R[coffer.rebackup.s]}" 0.5
  check "restore < 4 s" "${R[coffer.restore.s]}" 4
  check "peak memory < 150 MiB" "$peak" 150
  if [[ ${R[restic.status]:-} == ok ]]; then
    check "store <= restic's ${R[restic.store]} MiB" "${R[coffer.store]}" "${R[restic.store]}" le
  fi
  [[ ${R[coffer.check]} == OK ]] || echo "- restore check: ${R[coffer.check]}"
}
# server_targets prints the server row against the local-store row: throughput (the same corpus,
# so local seconds / server seconds) of the first backup and of the restore, and the server's
# peak memory, against the goals in README.md.
server_targets() {
  local s=coffer-server corpus_mib=$1
  [[ -n ${R[$s.server.mib]:-} ]] || return 0
  echo
  echo "Coffer server (loopback, $([[ ${SERVE_HTTP:-0} == 1 ]] && echo plain HTTP || echo TLS)${SERVE_ARGS:+, serve $SERVE_ARGS}) against its targets$(over_runs ' (' ')'):"
  if [[ ${R[$s.status]:-} == ok && ${R[coffer.status]:-} == ok ]]; then
    ratio "first backup (without init)" backup "$corpus_mib"
    ratio "restore" restore "$corpus_mib"
  else
    echo "- throughput: not compared (local: ${R[coffer.status]:-not run}; server: ${R[$s.status]:-not run})"
  fi
  check "server peak memory (VmHWM over all steps) < 200 MiB" "${R[$s.server.mib]}" 200
  echo "- server: ${R[$s.server.cpu]:-?} CPU s, exit ${R[$s.server.exit]:-?} after SIGTERM, ${R[$s.server.requests]:-?} requests (status x count: ${R[$s.server.statuses]:-none})"
  if [[ ${R[$s.status]:-} == ok && ${R[$s.check]} != OK ]]; then echo "- restore check: ${R[$s.check]}"; fi
}
# ratio WHAT STEP CORPUS_MIB prints server/local throughput of STEP against the 80% goal.
ratio() {
  local l=${R[coffer.$2.s]} v=${R[coffer-server.$2.s]}
  awk -v what="$1" -v l="$l" -v v="$v" -v mib="$3" 'BEGIN {
    r = v > 0 ? l / v : 0
    printf "- %s: server/local throughput %.0f%% (local %s s = %.0f MiB/s, server %s s = %.0f MiB/s; target >= 80%%: %s)\n",
      what, 100 * r, l, (l > 0 ? mib / l : 0), v, (v > 0 ? mib / v : 0), (r >= 0.8 ? "met" : "MISSED")
  }'
}
# server_steps prints the requests, 429s and bytes of each step through the server.
server_steps() {
  local s=coffer-server step
  [[ -n ${R[$s.init.requests]:-} ]] || return 0
  echo
  echo "Coffer server, per step (from its request log; sent = server to client$( ((RUNS == 1)) || echo "; medians of $RUNS runs")):"
  echo
  echo '| step | requests | 429 | MiB sent | MiB received |'
  echo '| --- | --- | --- | --- | --- |'
  for step in init backup rebackup restore; do
    [[ -n ${R[$s.$step.requests]:-} ]] || continue
    printf '| %s | %s | %s | %s | %s |\n' "$step" "${R[$s.$step.requests]}" "${R[$s.$step.429]}" \
      "$(mib "${R[$s.$step.sent]}")" "$(mib "${R[$s.$step.received]}")"
  done
}

# issue10 prints the ratios that issue 10's Targets name (meant for medians of several runs on a
# quiet machine): Coffer local against Kopia local, Coffer through the server against Kopia local
# or Coffer local, the store against restic's, peak memory. Ratios are of the medians; with
# several runs each is also taken per round, and its range printed.
issue10() {
  echo
  if ((RUNS == 1)); then
    echo "Issue 10 targets, this run (one run; the targets are for medians):"
  else
    echo "Issue 10 targets, ratios of the medians of $RUNS runs, and per round: the range of that round's ratio and in how many rounds it met the target; peak memory is the maximum over all runs:"
  fi
  local c=coffer s=coffer-server k=kopia
  if succeeded $k && succeeded $c; then
    vs "unchanged re-backup, coffer local / kopia local" $c.rebackup.s $k.rebackup.s 0.5
    vs "restore, coffer local / kopia local" $c.restore.s $k.restore.s 0.4
    vs "first backup (without init), coffer local / kopia local" $c.backup.s $k.backup.s 0.4
  else
    echo "- against Kopia: not compared (kopia: ${R[$k.status]:-not run}; coffer: ${R[$c.status]:-not run})"
  fi
  if succeeded $k && succeeded $s; then
    vs "unchanged re-backup, coffer server / kopia local" $s.rebackup.s $k.rebackup.s 0.6
  fi
  if succeeded $s && succeeded $c; then
    vs "restore, coffer server / coffer local" $s.restore.s $c.restore.s 1.2
    vs "first backup (without init), coffer server / coffer local" $s.backup.s $c.backup.s 1.15
  fi
  if succeeded restic && succeeded $c; then
    vs "store, coffer / restic" $c.store restic.store 1.03
  fi
  local t of=
  ((RUNS == 1)) || of=", maximum over $RUNS runs"
  for t in $c $s; do
    succeeded "$t" || continue
    check "peak memory of $(label "$t") (client steps${R[$t.server.mib]:+ and server}$of) < 150 MiB" "${R[$t.peak.mib]}" 150
  done
}
# vs WHAT A B TARGET prints R[A]/R[B], A and B being TOOL.KEY, against a ratio target (met when
# A/B <= TARGET); with several runs, also the range of RR[RUN:A]/RR[RUN:B] over the rounds in
# which both tools succeeded, and in how many of those rounds the target was met.
vs() {
  local r pairs=
  for ((r = 1; r <= RUNS; r++)); do
    [[ ${RR[$r:${2%%.*}.status]:-} == ok && ${RR[$r:${3%%.*}.status]:-} == ok ]] || continue
    pairs+="${RR[$r:$2]} ${RR[$r:$3]}"$'\n'
  done
  awk -v what="$1" -v a="${R[$2]}" -v b="${R[$3]}" -v t="$4" -v runs="$RUNS" '
    NF == 2 {
      q = $2 > 0 ? $1 / $2 : 0
      if (n == 0 || q < lo) lo = q
      if (n == 0 || q > hi) hi = q
      n++
      if ($2 > 0 && q <= t) met++
    }
    END {
      r = b > 0 ? a / b : 0
      printf "- %s: %s / %s = %.2fx (target <= %sx: %s)", what, a, b, r, t, (b > 0 && r <= t ? "met" : "MISSED")
      if (runs > 1) printf "; per round %.2f–%.2fx, met in %d of %d rounds", lo, hi, met, n
      printf "\n"
    }' <<<"$pairs"
}
check() {
  local what=$1 got=$2 limit=$3 op=${4:-lt} verdict
  verdict=$(awk -v g="$got" -v l="$limit" -v op="$op" 'BEGIN { ok = (op == "le" ? g <= l : g < l); print ok ? "met" : "MISSED" }')
  echo "- $what: $got ($verdict)"
}

# run_rounds runs the selected tools' sequences RUNS times, round by round in the table's order,
# so that a slow phase of a shared machine falls on every tool alike; each run's files are in RD
# (WORK itself for a single run, else WORK/runN) and its figures are saved in RR. It records the
# load average at the start of each round in round_loads.
round_loads=()
run_rounds() {
  local round tool
  for ((round = 1; round <= RUNS; round++)); do
    RD=$WORK
    ((RUNS == 1)) || RD=$WORK/run$round
    mkdir -p "$RD"
    round_loads+=("$(cut -d' ' -f1 /proc/loadavg)")
    ((RUNS == 1)) || log "round $round of $RUNS (load average ${round_loads[-1]}, files in $RD)"
    for tool in "${selected[@]}"; do
      [[ $tool != kopia || -n $KOPIA ]] || continue
      warm
      log "$tool: running"
      "run_${tool//-/_}" || true # the failure is in R[$tool.status]; the other tools still run
      save_run "$round" "$tool"
    done
  done
  for tool in "${selected[@]}"; do aggregate "$tool"; done
}

# report CORPUS_BYTES LOAD0 COFFER_FROM prints the header, the tables and the targets.
report() {
  local corpus_bytes=$1 load0=$2 load1 t
  echo
  echo "Corpus: $CORPUS, SCALE=$SCALE, $(mib "$corpus_bytes") MiB apparent, $(find "$CORPUS" | wc -l) entries"
  echo "Machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(df -T "$WORK" | awk 'NR == 2 { print $2 }') filesystem; $(restic version | head -1); kopia ${kopia_version:-not available}; coffer from $3"
  load1=$(cut -d' ' -f1 /proc/loadavg)
  echo "Load average (1 min): $load0 at start, $load1 at end$( ((RUNS == 1)) || echo "; at the start of each round: ${round_loads[*]}")."
  awk -v a="$load0" -v b="$load1" -v n="$(nproc)" 'BEGIN { exit !(a > n || b > n) }' &&
    echo "WARNING: load above $(nproc) cores: other work shared the CPUs, so wall times are inflated (the JSON's *_cpu fields give CPU seconds)."
  echo "Warm page cache (corpus read once before each tool); seconds are wall time, MiB are peak RSS.$( ((RUNS == 1)) ||
    echo " Each figure is the median of $RUNS runs, interleaved round by round, each on a fresh store; MiB are the maximum over the runs.")"
  echo
  echo '| tool | init+backup s | MiB peak | re-backup s | MiB | restore s | MiB | store MiB | server MiB peak | init s | restore check |'
  echo '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |'
  for t in "${selected[@]}"; do row "$t"; done
  spread_table
  targets
  server_targets "$(mib "$corpus_bytes")"
  server_steps
  issue10
}

# write_json CORPUS_BYTES COFFER_FROM writes WORK/results.json.
write_json() {
  local t sep=
  printf '{\n  "scale": %s, "corpus": %s, "corpus_mib": %s, "cores": %s, "restic_version": %s, "kopia_version": %s, "coffer_from": %s, "serve_args": %s,\n' \
    "$SCALE" "$(json_str "$CORPUS")" "$(mib "$1")" "$(nproc)" "$(json_str "$(restic version | head -1)")" \
    "$(json_str "$kopia_version")" "$(json_str "$2")" "$(json_str "${SERVE_ARGS:-}")"
  printf '  "rounds": %s, "round_loads": [%s],\n  "rows": [\n' "$RUNS" "$(IFS=,; echo "${round_loads[*]}")"
  for t in "${selected[@]}"; do
    printf '%s' "$sep"
    json_row "$t"
    sep=$',\n'
  done
  printf '\n  ]\n}\n'
}

main() {
  trap stop_server EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  check_settings
  ensure_tools
  ensure_corpus
  if is_selected kopia; then ensure_kopia; fi
  WORK=${WORK:-$(mktemp -d "$(dirname "$CORPUS")/coffer-bench.XXXXXX")}
  mkdir -p "$WORK"
  WORK=$(realpath "$WORK")
  RD=$WORK
  [[ $(stat -c %d "$WORK") == $(stat -c %d "$CORPUS") ]] ||
    log "warning: WORK ($WORK) and CORPUS ($CORPUS) are on different filesystems"
  log "work dir: $WORK"
  build_coffer

  warm
  local corpus_bytes
  corpus_bytes=$(du -sb --apparent-size "$CORPUS" | cut -f1)
  manifest "$CORPUS" >"$WORK/corpus.manifest"

  local load0 coffer_from
  coffer_from="checkout $(git -C "$repo" rev-parse HEAD || true)"
  [[ -z $(git -C "$repo" status --porcelain -- cmd internal go.mod go.sum) ]] ||
    coffer_from+=" with uncommitted changes"
  [[ -z ${COFFER_BIN:-} ]] || coffer_from="binary $COFFER_BIN"
  load0=$(cut -d' ' -f1 /proc/loadavg)
  run_rounds
  report "$corpus_bytes" "$load0" "$coffer_from"
  write_json "$corpus_bytes" "$coffer_from" >"$WORK/results.json"
  echo
  echo "JSON ($WORK/results.json):"
  cat "$WORK/results.json"
}

main "$@"
