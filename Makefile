# The README's two commands: `make demo` runs the main job on the embedded
# default (a local store); `make test` runs every check and test, exactly as
# CI does (.ci/run).
GO ?= go
GOLANGCI_VERSION := v2.15.0
GOBIN := $(shell $(GO) env GOPATH)/bin
GOLANGCI := $(GOBIN)/golangci-lint
OMNIWITNESS_VERSION := v0.0.0-20260720115447-2e1c6971d19e
OMNIWITNESS := $(GOBIN)/omniwitness
VERSITYGW_VERSION := v1.8.0
VERSITYGW := $(GOBIN)/versitygw
PG_BIN := /usr/lib/postgresql/15/bin

.PHONY: build demo test lint fmt-check vet unit bench omniwitness versitygw postgres fuse3 shells cross chromium webwasm pycheck

build:
	$(GO) build -buildvcs=auto -o bin/coffer ./cmd/coffer

demo: build
	./scripts/demo.sh

test: fmt-check vet cross lint unit

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# The client on the other platforms: vet (which type-checks the tests too)
# and a build of the command, for each. Only Linux runs the tests.
CROSS_PLATFORMS := darwin/amd64 darwin/arm64 freebsd/amd64 windows/amd64
cross:
	@for p in $(CROSS_PLATFORMS); do \
		echo "vet and build for $$p"; \
		GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) vet ./... && \
		GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build -o /dev/null ./cmd/coffer || exit 1; \
	done

# golangci-lint (depguard layering rules, staticcheck) is installed from the
# Go module proxy at a pinned version when it is missing.
lint:
	@if ! [ -x $(GOLANGCI) ] || ! $(GOLANGCI) version 2>/dev/null | grep -q "$(patsubst v%,%,$(GOLANGCI_VERSION))"; then \
		echo "installing golangci-lint $(GOLANGCI_VERSION)"; \
		GOFLAGS= $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION); \
	fi
	$(GOLANGCI) run ./...

# omniwitness (github.com/transparency-dev/witness), an independent C2SP
# tlog-witness that internal/e2e's interoperability test runs, is installed
# the same way, outside go.mod.
omniwitness:
	@if ! [ -x $(OMNIWITNESS) ] || ! $(GO) version -m $(OMNIWITNESS) 2>/dev/null | grep -q "github.com/transparency-dev/witness[[:space:]]*$(OMNIWITNESS_VERSION)"; then \
		echo "installing omniwitness $(OMNIWITNESS_VERSION)"; \
		GOFLAGS= $(GO) install github.com/transparency-dev/witness/cmd/omniwitness@$(OMNIWITNESS_VERSION); \
	fi

# versitygw (github.com/versity/versitygw), an S3-compatible gateway that
# the S3 store's and the server's tests run for real (internal/store/s3/s3test),
# is installed the same way, outside go.mod.
versitygw:
	@if ! [ -x $(VERSITYGW) ] || ! $(GO) version -m $(VERSITYGW) 2>/dev/null | grep -q "github.com/versity/versitygw[[:space:]]*$(VERSITYGW_VERSION)"; then \
		echo "installing versitygw $(VERSITYGW_VERSION)"; \
		GOFLAGS= $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION); \
	fi

# PostgreSQL 15, which the tests of the PostgreSQL metadata database run
# for real (internal/server/meta/pgtest starts a throwaway cluster), is
# installed with apt when missing, if running as root with apt-get;
# otherwise those tests skip, and fail under CI (CI=true).
postgres:
	@if ! [ -x $(PG_BIN)/initdb ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing postgresql-15"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null; \
		else \
			echo "PostgreSQL 15 is missing ($(PG_BIN)/initdb) and cannot be installed here (needs root and apt-get)"; \
		fi; \
	fi


# fuse3 (fusermount3) lets internal/fusefs and cmd/coffer mount the file
# system they test. It is installed with apt when missing, if we are root
# and apt is there; elsewhere the mount tests skip, or fail under CI=true.
fuse3:
	@if ! command -v fusermount3 >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing fuse3"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fuse3 >/dev/null; \
		else \
			echo "fusermount3 is missing: install fuse3 for the mount tests"; \
		fi; \
	fi

# zsh and fish let internal/cliref and cmd/coffer check the completion
# scripts with the shells themselves (fish also completes with them), and
# groff (package groff-base) renders the man page; installed like fuse3,
# else those cases skip (and fail under CI=true).
shells:
	@missing=; for sh in zsh fish groff; do command -v $$sh >/dev/null 2>&1 || missing="$$missing $$sh"; done; \
	missing=$$(echo "$$missing" | sed 's/groff/groff-base/'); \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi


# Debian's chromium runs the web app's browser tests (internal/e2e,
# chromedp). It is installed with apt when missing, if we are root and apt
# is there; elsewhere those tests skip, or fail under CI=true.
chromium:
	@if ! [ -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing chromium"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "/usr/bin/chromium is missing: install chromium for the web app's browser tests"; \
		fi; \
	fi

# python3 with its cryptography package, and zstd, run the independent
# Python readers of the format's test vectors (internal/pycheck); installed
# like fuse3, else those tests skip (and fail under CI=true).
pycheck:
	@if ! command -v zstd >/dev/null 2>&1 || ! python3 -c 'import cryptography' >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing python3-cryptography zstd"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-cryptography zstd >/dev/null; \
		else \
			echo "python3 with cryptography, or zstd, is missing: install python3-cryptography and zstd for the vector readers"; \
		fi; \
	fi

# The web app's WebAssembly and Worker script, which the binary embeds, are
# committed; rebuild them after changing what they build from (the
# packages internal/webui/wasm imports). internal/webui's
# TestBuildReproducible checks that the committed bytes are the source's.
webwasm:
	./scripts/webwasm.sh

unit: omniwitness versitygw postgres fuse3 shells chromium pycheck
	$(GO) test -race -count=1 -timeout 30m ./...

bench:
	./bench/run.sh
