# aftersale: the commands of SPEC.md §7. Each installs what is missing first (idempotently).
SHELL := /bin/bash
.DEFAULT_GOAL := help
export PATH := $(HOME)/.cargo/bin:$(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: help install dev test test-native test-nostd test-simulator test-support test-www test-e2e test-console bench package clean

help:
	@echo "make dev      serve the proxy locally (sandbox mode) with the console at http://127.0.0.1:$${PORT:-8787}/"
	@echo "make test     install what is missing, build, run every test"
	@echo "make bench    benchmarks, written to BENCHMARKS.md"
	@echo "make package  the npm tarball in dist/"

install:
	@scripts/install-tools.sh all

dev: install
	@scripts/dev.sh

test: install
	@scripts/test-all.sh

# Single suites, for working on one part (they assume `make install` ran).
test-native:
	cargo test -p aftersale --all-targets
test-nostd:
	cargo build -p aftersale --target wasm32-unknown-unknown --no-default-features
test-simulator:
	node --test tests/simulator/
test-support:
	node --test --test-concurrency=1 tests/support/
test-www:
	scripts/test-www.sh
test-e2e:
	scripts/test-e2e.sh
test-console:
	scripts/test-console.sh

bench: install
	@scripts/bench.sh

package: install
	@scripts/package.sh

clean:
	cargo clean
	rm -rf dist www/pkg worker/build test-output
