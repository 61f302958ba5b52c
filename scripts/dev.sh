#!/usr/bin/env bash
# `make dev`: installs what is missing, builds, and runs turso-local, `wrangler dev` (edge-api + local
# R2), the render service's local emulator (CPU) and cpu-worker together with prefixed logs. Ctrl-C stops them all. Secrets never go on a command
# line (where `ps` shows them): wrangler reads them from .dev.vars (mode 600), the others from the
# environment.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
bash scripts/bootstrap.sh
export PATH="$HOME/.cargo/bin:$PATH"

EDGE_PORT="${EDGE_PORT:-8787}"
TURSO_PORT="${TURSO_PORT:-8080}"
INSPECTOR_PORT="${INSPECTOR_PORT:-9229}"
RENDER_PORT="${RENDER_PORT:-8790}"
STATE="${DEV_STATE_DIR:-$ROOT/.dev}"
mkdir -p "$STATE"
secret() { # a value kept in .dev/NAME, generated once
  [ -s "$STATE/$1" ] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$STATE/$1"
  cat "$STATE/$1"
}
if [ -z "${STUDIO_API_TOKEN:-}" ]; then STUDIO_API_TOKEN="$(secret api-token)"; fi
SIGNING_SECRET="${SIGNING_SECRET:-$(secret signing-secret)}"
DB_TOKEN="$(secret db-token)"
# Standard Webhooks secret for the render service's callbacks: whsec_ + base64 key, generated once.
if [ -z "${WEBHOOK_SECRET:-}" ]; then
  [ -s "$STATE/webhook-secret" ] || echo "whsec_$(head -c 24 /dev/urandom | base64)" > "$STATE/webhook-secret"
  WEBHOOK_SECRET="$(cat "$STATE/webhook-secret")"
fi

# The render service's bearer token (the worker sends it, the emulator checks it), generated once.
if [ -z "${MODAL_AUTH_TOKEN:-}" ]; then MODAL_AUTH_TOKEN="$(secret modal-auth-token)"; fi
RENDER_SERVICE_URL="http://127.0.0.1:$RENDER_PORT"

# wrangler dev reads its bindings from .dev.vars beside wrangler.toml.
( umask 077; cat > "$ROOT/.dev.vars" <<VARS
# Written by make dev (scripts/dev.sh); regenerated on every start.
TURSO_DATABASE_URL=http://127.0.0.1:$TURSO_PORT
TURSO_AUTH_TOKEN=$DB_TOKEN
API_TOKEN=$STUDIO_API_TOKEN
SIGNING_SECRET=$SIGNING_SECRET
WEBHOOK_SECRET=$WEBHOOK_SECRET
RENDER_SERVICE_URL=$RENDER_SERVICE_URL
VARS
)
# The test-only allowlists reach every process that reads them: the worker and the emulator inherit
# the environment, the edge gets them here (else `INGEST_ALLOW_HOSTS=… make dev` would refuse the
# allowed origin at the door while the worker would fetch it).
for name in CALLBACK_ALLOW_HOSTS INGEST_ALLOW_HOSTS; do
  if [ -n "${!name:-}" ]; then printf '%s=%s\n' "$name" "${!name}" >> "$ROOT/.dev.vars"; fi
done
# turso-local, the render emulator and cpu-worker read theirs from the environment. RENDER_WEBHOOK_URL,
# when set, passes through to the worker (it defaults to the edge's /api/webhooks/render).
export TURSO_LOCAL_AUTH_TOKEN="$DB_TOKEN" TURSO_DATABASE_URL="http://127.0.0.1:$TURSO_PORT" \
  TURSO_AUTH_TOKEN="$DB_TOKEN" SIGNING_SECRET EDGE_BASE_URL="http://127.0.0.1:$EDGE_PORT" \
  WEBHOOK_SECRET MODAL_AUTH_TOKEN RENDER_SERVICE_URL LOG_FORMAT="${LOG_FORMAT:-pretty}" \
  YTDLP_BIN="${YTDLP_BIN:-$ROOT/.venv/bin/yt-dlp}"

echo "[dev] building turso-local and cpu-worker…"
cargo build -q -p turso-local -p cpu-worker

pids=()
cleanup() {
  trap - EXIT INT TERM
  # Stop first, talk afterwards: the terminal (or a pipe) may already be gone.
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for _ in $(seq 1 100); do
    alive=0; for pid in "${pids[@]}"; do kill -0 -- "-$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break; sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  echo "[dev] stopped" 2>/dev/null || true
}
trap cleanup EXIT INT TERM
run() { # run NAME COMMAND… in its own process group, lines prefixed with [NAME]
  local name="$1"; shift
  setsid bash -c '"$@" 2>&1 | sed -u "s/^/[$0] /"' "$(printf '%-6s' "$name")" "$@" &
  pids+=("$!")
}
wait_for() { for _ in $(seq 1 "$2"); do curl -sf "$1" >/dev/null && return 0; sleep 1; done; echo "[dev] $1 did not come up" >&2; return 1; }

run db target/debug/turso-local --db "$STATE/studio.db" --listen "127.0.0.1:$TURSO_PORT"
wait_for "http://127.0.0.1:$TURSO_PORT/health" 30
# WRANGLER_DISABLE_REQUEST_BODY_DRAINING: answer a refused upload at once, as production does (a
# dev-only wrangler middleware would otherwise read every unread request body to its end first).
run edge env WRANGLER_SEND_METRICS=false WRANGLER_DISABLE_REQUEST_BODY_DRAINING=1 node_modules/.bin/wrangler dev --ip 127.0.0.1 --port "$EDGE_PORT" \
  --inspector-port "$INSPECTOR_PORT" --persist-to "$STATE/wrangler" --show-interactive-dev-session false
run render .venv/bin/python -m modal_app.service.local --port "$RENDER_PORT"
wait_for "$RENDER_SERVICE_URL/health" 60
wait_for "http://127.0.0.1:$EDGE_PORT/api/health" 300
run worker target/debug/cpu-worker

# A first creator account and API key, made once through the admin API and kept in .dev/api-key (made
# again if the database was reset). Tokens go to curl through header files, never on its command line.
API="http://127.0.0.1:$EDGE_PORT/api"
header() { (umask 077; printf 'Authorization: Bearer %s\n' "$2" > "$STATE/$1"); }
json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
[ -s "$STATE/api-key" ] && header .creator-header "$(cat "$STATE/api-key")"
if [ ! -s "$STATE/api-key" ] || ! curl -sf -H @"$STATE/.creator-header" "$API/usage" >/dev/null; then
  header .operator-header "$STUDIO_API_TOKEN"
  account=""
  for _ in $(seq 1 60); do # the worker applies migrations as it starts
    account="$(curl -sf -H @"$STATE/.operator-header" -H 'content-type: application/json' \
      -d '{"name":"Local creator"}' "$API/admin/accounts")" && break
    sleep 0.5
  done
  [ -n "$account" ] || { echo "[dev] could not create the first account" >&2; exit 1; }
  account_id="$(json_field accountId <<<"$account")"
  key="$(curl -sf -X POST -H @"$STATE/.operator-header" "$API/admin/accounts/$account_id/keys" | json_field apiKey)"
  (umask 077; echo "$key" > "$STATE/api-key"; json_field webhookSecret <<<"$account" > "$STATE/callback-secret")
  rm -f "$STATE/.operator-header"
fi
rm -f "$STATE/.creator-header"
API_KEY="$(cat "$STATE/api-key")"

cat <<MSG

  Ethereal Flame Studio is running.
    Studio page:     http://127.0.0.1:$EDGE_PORT/   (sign in with your API key below)
    API:             $API   (health: /api/health)
    Renders:         $RENDER_SERVICE_URL (local emulator, CPU)
    Your API key:    $API_KEY   (kept in $STATE/api-key)
    Operator token:  $STUDIO_API_TOKEN   (for /api/admin/* only)
    Try:             curl -H "Authorization: Bearer $API_KEY" $API/usage
  Ctrl-C stops everything.

MSG
wait -n "${pids[@]}" || true
echo "[dev] a process exited; stopping the rest"
