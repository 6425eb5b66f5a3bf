#!/bin/sh
# Builds the web app's WebAssembly and its Worker script into DIR (default
# internal/webui/static, where the coffer binary embeds them), reproducibly:
# the same source and Go toolchain give the same bytes, whose SHA-256
# `coffer version` prints (docs/web.md, "The web app").
set -eu
cd "$(dirname "$0")/.."
out=${1:-internal/webui/static}
GOOS=js GOARCH=wasm CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
	go build -trimpath -ldflags='-s -w -buildid=' -o "$out/coffer.wasm" ./internal/webui/wasm
cat "$(go env GOROOT)/lib/wasm/wasm_exec.js" internal/webui/src/worker-main.js > "$out/worker.js"
