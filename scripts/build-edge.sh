#!/usr/bin/env bash
# Builds edge-api to wasm for wrangler (edge-api/build/). Offline-safe: wasm-bindgen and esbuild come
# from local installs (crates.io / npm), never from GitHub; wasm-opt is off (Debian's is too old).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}"
export ESBUILD_BIN="${ESBUILD_BIN:-$ROOT/node_modules/esbuild/bin/esbuild}"
cd "$ROOT/edge-api"
exec worker-build --release --no-opt
