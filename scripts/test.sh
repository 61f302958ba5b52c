#!/usr/bin/env bash
# `make test`: every check, in the order CI runs them. Installs what is missing first.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
bash scripts/bootstrap.sh
export PATH="$HOME/.cargo/bin:$PATH"
step() { printf '\n\033[1;34m== %s\033[0m\n' "$*"; }

step "rustfmt";                 cargo fmt --all -- --check
step "eslint (the page)";          npx --no-install eslint
step "clippy (native)";         cargo clippy --workspace --all-targets -- -D warnings
step "clippy (edge-api, wasm)"; cargo clippy -p edge-api --target wasm32-unknown-unknown -- -D warnings
step "wasm build of edge-api";  bash scripts/build-edge.sh
step "binaries for the e2e";    cargo build -p turso-local -p cpu-worker
step "unit, conformance, database and end-to-end tests"
cargo test --workspace

step "make dev keeps secrets off command lines"
bash scripts/check-dev-secrets.sh

step "ruff (Python lint)"; .venv/bin/ruff check modal_app

step "renderer and render service (Python, CPU)"
.venv/bin/python -m pytest -q modal_app/tests
