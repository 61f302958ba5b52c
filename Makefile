# Ethereal Flame Studio — developer entry points. See README.md.
.PHONY: dev test setup build-edge fmt

## Install what is missing, build, and run the local stack (turso-local + wrangler dev + cpu-worker).
dev:
	bash scripts/dev.sh

## Every check CI runs: fmt, clippy, wasm build, unit/conformance/database/e2e tests.
test:
	bash scripts/test.sh

## Only install the tools (idempotent).
setup:
	bash scripts/bootstrap.sh

build-edge:
	bash scripts/build-edge.sh

fmt:
	cargo fmt --all
