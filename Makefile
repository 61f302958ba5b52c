# Ethereal Flame Studio — developer entry points. See README.md.
.PHONY: dev test setup build-edge fmt bench-render render-service

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

## Frames per second and realtime factor of the renderer (CPU; CUDA too when a GPU is present). Not a test.
bench-render: setup
	.venv/bin/python -m modal_app.engine.bench

## The render service's local emulator (needs MODAL_AUTH_TOKEN and WEBHOOK_SECRET=whsec_…).
render-service: setup
	.venv/bin/python -m modal_app.service.local --port $${RENDER_PORT:-8790}
