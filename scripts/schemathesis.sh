#!/usr/bin/env bash
# Schemathesis against the real server (SQLite, in-process adapters, a fresh data dir), driven by
# the server's own /openapi.json, with every check: once as an admin and once as a member, each
# bounded in time. Exits non-zero on any failure.
#
# Not yet called from .ci/run: a 60 s run per role still finds about a dozen schema-valid requests
# the server refuses (check ST202, positive_data_acceptance; no other check fails and no request
# gets a 5xx). A few are rules the schema does not state yet (the configurable password policy,
# `user_id` or `email` but not both); the others depend on state the generator cannot know (a
# reused `Idempotency-Key`, a wrong `current_password`, an unknown verification token). See
# docs/security.md, "How we test it". Expected statuses the schema cannot tell schemathesis are
# in scripts/schemathesis.toml, with their reasons.
#
#   scripts/schemathesis.sh [seconds_per_run]
#
# Schemathesis comes from PyPI into a virtualenv cached under ~/.cache/forge-ci (created on the
# first run). Reports (JUnit) go to target/schemathesis/.
#
# Exclusions, each with its reason (the flags themselves are in EXCLUDE below):
# - POST /auth/logout, POST /auth/logout-all, DELETE /auth/sessions/{id}: they end the session
#   whose token the run authenticates with; every later case would then only see 401s.
#   (Changing the password needs the current one, which the generator does not know; an admin
#   cannot demote, deactivate or delete itself; so nothing else can end the run's session. The
#   member runs first, because the admin run may delete or deactivate the member.)
# - Rate limits and login lockout are switched off: generated logins would otherwise lock the
#   accounts and every check would see 429s, which are documented but test nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN=${1:-60}
PORT=${PORT:-18091}
BIN=target/debug/forge
VENV=${SCHEMATHESIS_VENV:-$HOME/.cache/forge-ci/schemathesis-venv}
REPORTS=target/schemathesis
DATA=$(mktemp -d)
trap 'kill "${PID:-}" 2>/dev/null || true; wait "${PID:-}" 2>/dev/null || true; rm -rf "$DATA"' EXIT

if [ ! -x "$VENV/bin/schemathesis" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q 'schemathesis==4.32.5'
fi
cargo build --locked -q -p forge-server --bin forge

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
curl -fs -X POST "$API/auth/register" -H 'content-type: application/json' \
  -d "{\"email\":\"member@example.com\",\"username\":\"member\",\"password\":\"$MEMBER_PASSWORD\"}" >/dev/null
ADMIN_TOKEN=$(token "{\"email\":\"admin@example.com\",\"password\":\"$ADMIN_PASSWORD\"}")
MEMBER_TOKEN=$(token "{\"email\":\"member@example.com\",\"password\":\"$MEMBER_PASSWORD\"}")

EXCLUDE=(
  # They end the session the run authenticates with (see the notes at the top).
  --exclude-operation-id logout --exclude-operation-id logout_all --exclude-operation-id revoke_session
)

mkdir -p "$REPORTS"
# Schemathesis keeps the failures of earlier runs in .schemathesis/ and replays them first; each
# run here starts from nothing, so its figures are its own.
rm -rf .schemathesis
status=0
for who in member admin; do
  if [ "$who" = admin ]; then TOKEN=$ADMIN_TOKEN; else TOKEN=$MEMBER_TOKEN; fi
  echo "=== schemathesis as $who (${SECONDS_PER_RUN}s)"
  "$VENV/bin/schemathesis" --config-file scripts/schemathesis.toml run "http://127.0.0.1:$PORT/openapi.json" \
    --checks all --max-time "$SECONDS_PER_RUN" --seed 14 --workers 2 \
    -H "Authorization: Bearer $TOKEN" "${EXCLUDE[@]}" \
    --generation-database none --report junit --report-junit-path "$REPORTS/$who.xml" --no-color || status=1
done
if [ "$status" != 0 ]; then
  echo "--- server log (last 50 lines)"; tail -n 50 "$DATA/server.log"
fi
exit "$status"
