#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine, idempotently: each step checks first and
# skips what is already there. Reaches only Debian apt, crates.io and npm (no GitHub downloads).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
say() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

# Debian packages.
missing=()
# chromium: the browser test of the creator's page (driven by puppeteer-core from npm; no browser download).
for pkg_cmd in ffmpeg:ffmpeg ffmpeg:ffprobe curl:curl pkg-config:pkg-config python3:python3 chromium:chromium; do
  command -v "${pkg_cmd#*:}" >/dev/null 2>&1 || missing+=("${pkg_cmd%%:*}")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Node.js ≥ 20.3 (wrangler 4.86). Debian's packaged node is too old, so we only check.
if ! command -v node >/dev/null 2>&1; then
  echo "Node.js ≥ 20.3 is required (not found). Install it, then re-run." >&2; exit 1
fi
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=3)?0:1)' \
  || { echo "Node.js ≥ 20.3 is required (found $(node --version))." >&2; exit 1; }

# Rust toolchain pieces.
command -v cargo >/dev/null || { echo "Rust (cargo) is required: https://rustup.rs" >&2; exit 1; }
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "rustup target add wasm32-unknown-unknown"; rustup target add wasm32-unknown-unknown
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt

WORKER_BUILD_VERSION="$(awk '/^name = "worker"$/{getline; gsub(/[^0-9.]/,""); print; exit}' Cargo.lock)"
if ! worker-build --version 2>/dev/null | grep -q "$WORKER_BUILD_VERSION"; then
  say "cargo install worker-build@$WORKER_BUILD_VERSION"
  cargo install -q --force worker-build --version "$WORKER_BUILD_VERSION"
  worker-build --version | grep -q "$WORKER_BUILD_VERSION" || { echo "worker-build install failed" >&2; exit 1; }
fi
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/[^0-9.]/,""); print; exit}' Cargo.lock)"
if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  say "cargo install wasm-bindgen-cli@$WASM_BINDGEN_VERSION (must match Cargo.lock)"
  cargo install -q --force wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
  wasm-bindgen --version | grep -q "$WASM_BINDGEN_VERSION" || { echo "wasm-bindgen-cli install failed" >&2; exit 1; }
fi

# npm packages (wrangler, esbuild, @libsql/client), only when the lock changed.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"; npm ci --no-audit --no-fund --loglevel=error
fi
# Python environment for modal_app (renderer, emulator, tests, lint), rebuilt when either requirements file
# changes: requirements-dev.txt is the runtime pins (requirements.txt, what the Modal image installs) plus
# modal, pytest and ruff.
REQ_HASH="$(cat modal_app/requirements.txt modal_app/requirements-dev.txt | sha256sum | cut -c1-16)"
if [ "$(cat .venv/.requirements 2>/dev/null)" != "$REQ_HASH" ]; then
  python3 -m venv .venv 2>/dev/null || { $SUDO apt-get update -qq; DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null; python3 -m venv .venv; }
  say "pip install -r modal_app/requirements-dev.txt"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r modal_app/requirements-dev.txt
  echo "$REQ_HASH" > .venv/.requirements
fi
# The worker's yt-dlp (pinned; PyPI, since Debian's is too old), beside the renderer's packages.
WORKER_REQ_HASH="$(sha256sum cpu-worker/requirements.txt | cut -c1-16)"
if [ "$(cat .venv/.worker-requirements 2>/dev/null)" != "$WORKER_REQ_HASH" ]; then
  say "pip install -r cpu-worker/requirements.txt"
  .venv/bin/pip install -q -r cpu-worker/requirements.txt
  echo "$WORKER_REQ_HASH" > .venv/.worker-requirements
fi
say "tools ready"
