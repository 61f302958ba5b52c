#!/usr/bin/env bash
# Starts `make dev` (scripts/dev.sh) on free ports and checks that no process of the local stack carries a
# secret on its command line (where `ps` shows it to every user), that .dev.vars is private, that the API
# answers with the generated token, and that Ctrl-C (SIGINT) stops everything. Part of `make test`.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export EDGE_PORT="$(free_port)" TURSO_PORT="$(free_port)" INSPECTOR_PORT="$(free_port)" RENDER_PORT="$(free_port)"
unset STUDIO_API_TOKEN SIGNING_SECRET WEBHOOK_SECRET MODAL_AUTH_TOKEN RENDER_WEBHOOK_URL
# One variable configures the whole stack: an allowed plain-http origin must pass the edge's door too.
ORIGIN_PORT="$(free_port)"
export INGEST_ALLOW_HOSTS="127.0.0.1:$ORIGIN_PORT" CALLBACK_ALLOW_HOSTS="127.0.0.1:$ORIGIN_PORT"
export DEV_STATE_DIR="$(mktemp -d)"   # a throwaway database and tokens, not the developer's .dev/
log="$DEV_STATE_DIR/dev.log"
# Job control on, so the stack gets its own process group and SIGINT is delivered as Ctrl-C would be
# (without it, bash starts background jobs with SIGINT ignored).
set -m
bash scripts/dev.sh >"$log" 2>&1 &
dev=$!
set +m
stop() { kill -INT -- "-$dev" 2>/dev/null || true; }
trap stop EXIT
fail() { echo "check-dev-secrets: $*" >&2; tail -40 "$log" >&2; exit 1; }

for _ in $(seq 1 300); do grep -q "is running" "$log" && break; kill -0 "$dev" 2>/dev/null || fail "make dev exited"; sleep 1; done
grep -q "is running" "$log" || fail "the stack did not come up"

health="$(curl -sf "http://127.0.0.1:$EDGE_PORT/api/health")" || fail "API not answering"
key="$(cat "$DEV_STATE_DIR/api-key")"
[[ "$key" == efs_live_* ]] || fail "make dev made no first API key"
grep -q "Your API key:    $key" "$log" || fail "make dev did not print the API key"
curl -sf -H @<(printf 'Authorization: Bearer %s\n' "$key") "http://127.0.0.1:$EDGE_PORT/api/usage" >/dev/null \
  || fail "the first API key does not open the creator routes"
[ "$(stat -c %a "$DEV_STATE_DIR/api-key")" = 600 ] || fail ".dev/api-key is readable by others"
status="$(curl -s -o /dev/null -w '%{http_code}' -H @<(printf 'Authorization: Bearer %s\n' "$key") \
  -H 'content-type: application/json' -d "{\"source\":{\"type\":\"url\",\"url\":\"http://127.0.0.1:$ORIGIN_PORT/a.wav\"},\
\"callbackUrl\":\"http://127.0.0.1:$ORIGIN_PORT/hook\"}" "http://127.0.0.1:$EDGE_PORT/api/audio/ingest")"
[ "$status" = 202 ] || fail "the edge refused an INGEST_ALLOW_HOSTS / CALLBACK_ALLOW_HOSTS origin ($status)"
echo "$health" | grep -q '"render":"ok"' || fail "the render service emulator is not healthy: $health"
grep -q '^\[render' "$log" || fail "no [render] log lines"
[ "$(stat -c %a .dev.vars)" = 600 ] || fail ".dev.vars is readable by others"
for name in db-token signing-secret api-token webhook-secret modal-auth-token api-key callback-secret; do
  value="$(cat "$DEV_STATE_DIR/$name")"
  for cmdline in /proc/[0-9]*/cmdline; do
    if tr '\0' ' ' <"$cmdline" 2>/dev/null | grep -qF -- "$value"; then
      fail "the $name is on the command line of pid $(basename "$(dirname "$cmdline")"): $(tr '\0' ' ' <"$cmdline" | cut -c1-200)"
    fi
  done
done

stop
for _ in $(seq 1 30); do kill -0 "$dev" 2>/dev/null || break; sleep 0.5; done
kill -0 "$dev" 2>/dev/null && fail "make dev did not stop on Ctrl-C"
if curl -s --max-time 2 "http://127.0.0.1:$EDGE_PORT/api/health" >/dev/null; then fail "the edge outlived make dev"; fi
if curl -s --max-time 2 "http://127.0.0.1:$RENDER_PORT/health" >/dev/null; then fail "the render emulator outlived make dev"; fi
trap - EXIT
rm -rf "$DEV_STATE_DIR"
echo "check-dev-secrets: render emulator healthy; the first API key works; the allowlists reach the edge; no secret on any command line; .dev.vars is 600; Ctrl-C stopped the stack"
