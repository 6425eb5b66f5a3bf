#!/usr/bin/env bash
# bench/run.sh: compares Coffer with restic on the shared benchmark corpus.
#
# For each tool, on the same corpus and with a fresh store on the same filesystem, it
# measures wall time and peak memory (max RSS, GNU time) of init + first backup (init also
# alone, so a slow KDF shows), an unchanged re-backup and a full restore into an empty dir,
# checks the restored tree against the corpus, and reports the store size. See README.md.
#
# Environment:
#   SCALE   corpus scale given to make-corpus.sh (default 4, about 1 GiB)
#   CORPUS  corpus directory (default ${TMPDIR:-/tmp}/coffer-corpus-s$SCALE); built once and
#           reused while the marker file "$CORPUS.complete" says it is complete
#   WORK    scratch directory for binaries, stores, restores and logs (default: a new
#           directory beside the corpus, so stores are on the corpus's filesystem)
#   KEEP=1  keep the stores and restored trees in WORK (by default only logs and results stay)
#   COFFER_BIN  an already built coffer binary to measure instead of building ./cmd/coffer
#   STEP_TIMEOUT  seconds after which one measured step is killed and reported (default 900)
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
# WORK/TOOL.STEP.{out,err,time}. It syncs first so writeback left by an earlier step is not
# charged to this one.
declare -A R
measure() {
  local tool=$1 step=$2 t0 rc=0
  shift 2
  local base=$WORK/$tool.$step
  sync
  t0=$(now)
  /usr/bin/time -v -o "$base.time" timeout "${STEP_TIMEOUT:-900}" "$@" <"/dev/null" >"$base.out" 2>"$base.err" || rc=$?
  R[$tool.$step.s]=$(secs "$t0" "$(now)")
  R[$tool.$step.mib]=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$base.time")
  R[$tool.$step.cpu]=$(awk -F': ' '/(User|System) time/ { t += $2 } END { printf "%.2f", t }' "$base.time")
  if ((rc != 0)); then
    R[$tool.status]="FAILED at $step (exit $rc): $(head -c 300 "$base.err" | tr '\n|' ' /')"
    log "$tool: ${R[$tool.status]} (logs: $base.*)"
    return 1
  fi
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
  manifest "$root" >"$WORK/$tool.restored.manifest"
  if cmp -s "$WORK/corpus.manifest" "$WORK/$tool.restored.manifest"; then
    R[$tool.check]=OK
  else
    diff "$WORK/corpus.manifest" "$WORK/$tool.restored.manifest" >"$WORK/$tool.restore.diff" || true
    R[$tool.check]="MISMATCH ($(grep -c '^[<>]' "$WORK/$tool.restore.diff") lines differ, see $WORK/$tool.restore.diff)"
  fi
  log "$tool: restore check ${R[$tool.check]} (restored root $root)"
}

run_restic() {
  local store=$WORK/restic-store target=$WORK/restic-restore
  export RESTIC_CACHE_DIR=$WORK/restic-cache
  measure restic init restic init --repo "$store" || return 1
  measure restic backup restic -r "$store" backup --host bench "$CORPUS" || return 1
  measure restic rebackup restic -r "$store" backup --host bench "$CORPUS" || return 1
  mkdir "$target" || return 1
  measure restic restore restic -r "$store" restore latest --target "$target" || return 1
  finish restic "$store" "$target" "$RESTIC_CACHE_DIR"
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

run_coffer() {
  local store=$WORK/coffer-store target=$WORK/coffer-restore coffer=$WORK/coffer
  export COFFER_HOME=$WORK/coffer-home
  [[ -x $coffer ]] || return 1
  measure coffer init "$coffer" init --store "$store" --json || return 1
  grep -q '"recovery_key"' "$WORK/coffer.init.out" || {
    R[coffer.status]="FAILED at init: output has no recovery_key"
    return 1
  }
  measure coffer backup "$coffer" backup "$CORPUS" --store "$store" --json || return 1
  measure coffer rebackup "$coffer" backup "$CORPUS" --store "$store" --json || return 1
  mkdir "$target" || return 1
  measure coffer restore "$coffer" restore latest --target "$target" --store "$store" || return 1
  finish coffer "$store" "$target"
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

# row TOOL prints the tool's Markdown row; a failed tool shows its failure in place of figures.
row() {
  local t=$1
  if [[ ${R[$t.status]:-} != ok ]]; then
    printf '| %s | %s |||||||||\n' "$t" "${R[$t.status]:-not run}"
    return
  fi
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$t" "${R[$t.initbackup.s]}" "${R[$t.initbackup.mib]}" \
    "${R[$t.rebackup.s]}" "${R[$t.rebackup.mib]}" "${R[$t.restore.s]}" "${R[$t.restore.mib]}" \
    "${R[$t.store]}" "${R[$t.init.s]}" "${R[$t.check]}"
}

json_str() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$(printf '%s' "$s" | tr -d '\000-\037')"; }
json_num() { if [[ -n ${1:-} ]]; then printf '%s' "$1"; else printf null; fi; }

json_row() {
  local t=$1 k
  printf '    {"tool": %s, "status": %s' "$(json_str "$t")" "$(json_str "${R[$t.status]:-not run}")"
  for k in initbackup.s initbackup.mib init.s init.cpu init.mib backup.s backup.cpu backup.mib \
    rebackup.s rebackup.cpu rebackup.mib restore.s restore.cpu restore.mib; do
    printf ', "%s": %s' "${k/./_}" "$(json_num "${R[$t.$k]:-}")"
  done
  printf ', "store_mib": %s, "restore_check": %s}' "$(json_num "${R[$t.store]:-}")" "$(json_str "${R[$t.check]:-}")"
}

# targets prints Coffer's figures against the goals in README.md (meant for SCALE=4).
targets() {
  [[ ${R[coffer.status]:-} == ok ]] || return 0
  local peak
  peak=$(maxf "${R[coffer.init.mib]}" "${R[coffer.backup.mib]}" "${R[coffer.rebackup.mib]}" "${R[coffer.restore.mib]}")
  echo
  echo "Coffer against its targets (meant for SCALE=4 on 2 cores; this run: SCALE=$SCALE, $(nproc) cores):"
  check "first backup (without init) < 2 s" "${R[coffer.backup.s]}" 2
  check "unchanged re-backup < 0.5 s" "${R[coffer.rebackup.s]}" 0.5
  check "restore < 4 s" "${R[coffer.restore.s]}" 4
  check "peak memory < 150 MiB" "$peak" 150
  if [[ ${R[restic.status]:-} == ok ]]; then
    check "store <= restic's ${R[restic.store]} MiB" "${R[coffer.store]}" "${R[restic.store]}" le
  fi
  [[ ${R[coffer.check]} == OK ]] || echo "- restore check: ${R[coffer.check]}"
}
check() {
  local what=$1 got=$2 limit=$3 op=${4:-lt} verdict
  verdict=$(awk -v g="$got" -v l="$limit" -v op="$op" 'BEGIN { ok = (op == "le" ? g <= l : g < l); print ok ? "met" : "MISSED" }')
  echo "- $what: $got ($verdict)"
}

main() {
  ensure_tools
  ensure_corpus
  WORK=${WORK:-$(mktemp -d "$(dirname "$CORPUS")/coffer-bench.XXXXXX")}
  mkdir -p "$WORK"
  WORK=$(realpath "$WORK")
  [[ $(stat -c %d "$WORK") == $(stat -c %d "$CORPUS") ]] ||
    log "warning: WORK ($WORK) and CORPUS ($CORPUS) are on different filesystems"
  log "work dir: $WORK"
  build_coffer

  warm
  local corpus_bytes
  corpus_bytes=$(du -sb --apparent-size "$CORPUS" | cut -f1)
  manifest "$CORPUS" >"$WORK/corpus.manifest"

  local tool load0 coffer_from="checkout $(git -C "$repo" rev-parse HEAD)"
  [[ -z ${COFFER_BIN:-} ]] || coffer_from="binary $COFFER_BIN"
  load0=$(cut -d' ' -f1 /proc/loadavg)
  for tool in coffer restic; do
    warm
    log "$tool: running"
    "run_$tool" || true # the failure is in R[$tool.status]; the other tool still runs
  done

  echo
  echo "Corpus: $CORPUS, SCALE=$SCALE, $(mib "$corpus_bytes") MiB apparent, $(find "$CORPUS" | wc -l) entries"
  echo "Machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(df -T "$WORK" | awk 'NR == 2 { print $2 }') filesystem; $(restic version | head -1); coffer from $coffer_from"
  local load1
  load1=$(cut -d' ' -f1 /proc/loadavg)
  echo "Load average (1 min): $load0 at start, $load1 at end."
  awk -v a="$load0" -v b="$load1" -v n="$(nproc)" 'BEGIN { exit !(a > n || b > n) }' &&
    echo "WARNING: load above $(nproc) cores: other work shared the CPUs, so wall times are inflated (the JSON's *_cpu fields give CPU seconds)."
  echo "Warm page cache (corpus read once before each tool); seconds are wall time, MiB are peak RSS."
  echo
  echo '| tool | init+backup s | MiB peak | re-backup s | MiB | restore s | MiB | store MiB | init s | restore check |'
  echo '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |'
  row coffer
  row restic
  targets

  {
    printf '{\n  "scale": %s, "corpus": %s, "corpus_mib": %s, "cores": %s, "restic_version": %s, "coffer_from": %s,\n  "rows": [\n' \
      "$SCALE" "$(json_str "$CORPUS")" "$(mib "$corpus_bytes")" "$(nproc)" "$(json_str "$(restic version | head -1)")" \
      "$(json_str "$coffer_from")"
    json_row coffer
    printf ',\n'
    json_row restic
    printf '\n  ]\n}\n'
  } >"$WORK/results.json"
  echo
  echo "JSON ($WORK/results.json):"
  cat "$WORK/results.json"
}

main "$@"
