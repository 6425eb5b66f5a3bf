#!/usr/bin/env bash
# Demo of the main job on the embedded default (a local store): creates a
# throwaway account, backs up a sample folder twice, lists, diffs, restores,
# verifies, and says what to type next. Everything lives in one temporary
# directory, printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/bin/coffer
[ -x "$bin" ] || go build -o "$bin" ./cmd/coffer
work=$(mktemp -d "${TMPDIR:-/tmp}/coffer-demo.XXXXXX")
export COFFER_HOME=$work/home
export COFFER_PASSPHRASE=demo-only-passphrase   # a throwaway account; use a prompt for real keys
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ coffer %s\n' "$*"; "$bin" "$@"; }

sample=$work/sample
mkdir -p "$sample"
cp -r docs internal "$sample/"
printf 'hello, coffer\n' >"$sample/hello.txt"
ln -s hello.txt "$sample/link-to-hello"
truncate -s 64M "$sample/sparse.img"; printf 'data in a sparse file' | dd of="$sample/sparse.img" bs=1 seek=$((32<<20)) conv=notrunc status=none

say "1. Create an account in a local store (keys stay in $COFFER_HOME)"
run init --store "$work/store"
say "2. Back up the sample folder"
run backup "$sample" --tag demo
say "3. Change a file and back up again: unchanged files are not read"
echo "changed" >>"$sample/hello.txt"
run backup "$sample" --tag demo
say "4. List snapshots and what changed"
run snapshots
run diff "$("$bin" snapshots --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["short_id"])')" latest
say "5. Restore the latest snapshot and compare it with the original"
run restore latest --target "$work/restored"
diff -r --no-dereference "$sample" "$work/restored/sample" && echo "restored tree is identical to the original"
say "6. Verify every byte in the store"
run check --read-data
run stats
say "Done. Try next:"
cat <<NEXT
  export COFFER_HOME=$work/home COFFER_PASSPHRASE=demo-only-passphrase
  $bin ls latest /sample/docs
  $bin restore latest --target /tmp/r --include sample/hello.txt
  $bin forget --keep-last 1 --prune
  $bin --help
  rm -rf $work     # when finished
NEXT
