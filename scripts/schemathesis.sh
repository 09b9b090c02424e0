#!/usr/bin/env bash
# Schemathesis against the real server (SQLite, in-process adapters, a fresh data dir), driven by
# the server's own /openapi.json, with every check and every phase (examples, coverage, fuzzing,
# stateful): once as a member and once as an admin, each bounded in time, with a second member
# for the object-level authorisation check. Exits non-zero on any failure. Run by .ci/run.
#
#   scripts/schemathesis.sh [seconds_per_run] [seed]
#
# FORGE_BIN names a server binary already built (CI passes the debug binary its test step built);
# without it, target/debug/forge is built first.
#
# Schemathesis comes from PyPI into a virtualenv cached under ~/.cache/forge-ci (created on the
# first run). Reports (JUnit) go to target/schemathesis/. The seed is 14 unless given, so a run
# can be repeated; a failure prints the command that reproduces it.
#
# Identities: `member`, `other` (a second member) and `admin`, each with a bearer token, in a Web
# Fuzzing Commons auth file (scripts/schemathesis.toml, [auth.wfc]). Every request of a run goes
# as its role; `member` and `other` are the peers of the object_level_authorization check, which
# replays `member`'s reads of its own objects as `other`.
#
# Operations left out, each with its reason (the flags themselves are in EXCLUDE below):
# - POST /auth/logout, POST /auth/logout-all, DELETE /auth/sessions/{id}: they end the session
#   whose token the run authenticates with; every later case would then only see 401s.
#   (Changing the password needs the current one, which the generator does not know; an admin
#   cannot demote, deactivate or delete itself; so nothing else can end the run's session. The
#   member runs first, because the admin run may delete or deactivate the members.)
# - GET /api/v1/ws: a WebSocket upgrade. Schemathesis sends plain HTTP requests, which get the
#   documented 400 MALFORMED_REQUEST whatever they hold; it can neither make the handshake nor
#   judge the messages (the WebSocket tests do).
# Rate limits and login lockout are switched off: generated logins would otherwise lock the
# accounts and every check would see 429s, which are documented but test nothing else.
# Checks switched off for single operations, where a schema-valid request is rightly refused for
# a reason no schema can state, are in scripts/schemathesis.toml, each with its reason.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN=${1:-60}
SEED=${2:-14}
PORT=${PORT:-18091}
BIN=${FORGE_BIN:-target/debug/forge}
VENV=${SCHEMATHESIS_VENV:-$HOME/.cache/forge-ci/schemathesis-venv}
REPORTS=target/schemathesis
DATA=$(mktemp -d)
trap 'kill "${PID:-}" 2>/dev/null || true; wait "${PID:-}" 2>/dev/null || true; rm -rf "$DATA"' EXIT

if [ ! -x "$VENV/bin/schemathesis" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q 'schemathesis==4.32.5'
fi
if [ -z "${FORGE_BIN:-}" ]; then
  cargo build --locked -q -p forge-server --bin forge
fi

ADMIN_PASSWORD='Schema-Thesis-Root-2026!'
MEMBER_PASSWORD='Schema-Thesis-Plain-2026!'
export FORGE_DATA_DIR="$DATA" FORGE_BIND="127.0.0.1:$PORT" RUST_LOG=warn \
  FORGE_RATE_LIMIT__ENABLED=false FORGE_RATE_LIMIT__LOCKOUT_ENABLED=false \
  FORGE_ADMIN__EMAIL=admin@example.com FORGE_ADMIN__USERNAME=admin FORGE_ADMIN__PASSWORD="$ADMIN_PASSWORD" \
  FORGE_AUTH__ACCESS_TOKEN_TTL_SECS=3600
"$BIN" serve >"$DATA/server.log" 2>&1 & PID=$!
for _ in $(seq 1 600); do
  curl -fs "http://127.0.0.1:$PORT/health/ready" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$PORT/health/ready" >/dev/null

API="http://127.0.0.1:$PORT/api/v1"
token() {
  curl -fs -X POST "$API/auth/login" -H 'content-type: application/json' -d "$1" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
register() {
  curl -fs -X POST "$API/auth/register" -H 'content-type: application/json' \
    -d "{\"email\":\"$1@example.com\",\"username\":\"$1\",\"password\":\"$MEMBER_PASSWORD\"}" >/dev/null
}
register member
register member2
ADMIN_TOKEN=$(token "{\"email\":\"admin@example.com\",\"password\":\"$ADMIN_PASSWORD\"}")
MEMBER_TOKEN=$(token "{\"email\":\"member@example.com\",\"password\":\"$MEMBER_PASSWORD\"}")
OTHER_TOKEN=$(token "{\"email\":\"member2@example.com\",\"password\":\"$MEMBER_PASSWORD\"}")
export FORGE_SCHEMATHESIS_WFC="$DATA/wfc-auth.json"
cat >"$FORGE_SCHEMATHESIS_WFC" <<JSON
{"auth": [
  {"name": "member", "fixedHeaders": [{"name": "Authorization", "value": "Bearer $MEMBER_TOKEN"}]},
  {"name": "other", "fixedHeaders": [{"name": "Authorization", "value": "Bearer $OTHER_TOKEN"}]},
  {"name": "admin", "fixedHeaders": [{"name": "Authorization", "value": "Bearer $ADMIN_TOKEN"}]}
]}
JSON

EXCLUDE=(
  # They end the session the run authenticates with (see the notes at the top).
  --exclude-operation-id logout --exclude-operation-id logout_all --exclude-operation-id revoke_session
  # A WebSocket upgrade, which schemathesis cannot make (see the notes at the top).
  --exclude-operation-id connect_websocket
)

mkdir -p "$REPORTS"
# Schemathesis keeps the failures of earlier runs in .schemathesis/ and replays them first; each
# run here starts from nothing, so its figures are its own.
rm -rf .schemathesis
# Every check is on: schemathesis enables all of them unless told otherwise (`--checks all` is not
# passed because it would also override the per-operation exceptions in the config file). One
# worker: with two threads, Python 3.11's ast.parse (which Hypothesis calls to describe filters)
# now and then fails with "SystemError: AST constructor recursion depth mismatch", an interpreter
# bug that fails the operation being generated.
status=0
for who in member admin; do
  echo "=== schemathesis as $who (${SECONDS_PER_RUN}s, seed $SEED)"
  FORGE_SCHEMATHESIS_USER=$who "$VENV/bin/schemathesis" --config-file scripts/schemathesis.toml \
    run "http://127.0.0.1:$PORT/openapi.json" \
    --max-time "$SECONDS_PER_RUN" --seed "$SEED" --workers 1 "${EXCLUDE[@]}" \
    --generation-database none --report junit --report-junit-path "$REPORTS/$who.xml" --no-color || status=1
done
if [ "$status" != 0 ]; then
  echo "--- server log (last 50 lines)"; tail -n 50 "$DATA/server.log"
fi
exit "$status"
