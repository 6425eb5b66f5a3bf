#!/usr/bin/env bash
# bench/micro.sh: runs the Go micro-benchmarks of the backup hot path (chunker, crypt, pack,
# index), skipping those packages that do not exist yet. Extra arguments go to `go test`,
# e.g. `bench/micro.sh -count 5 -benchtime 2s` for figures steady enough for benchstat.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
pkgs=()
for p in chunker crypt pack index; do
  [[ -d internal/$p ]] && pkgs+=("./internal/$p")
done
((${#pkgs[@]})) || { echo "micro.sh: none of the hot-path packages exists yet" >&2; exit 1; }
echo "go test -run '^\$' -bench . -benchmem $* ${pkgs[*]}"
go test -run '^$' -bench . -benchmem "$@" "${pkgs[@]}"
