#!/usr/bin/env bash
# A bounded local load run against the real server on the embedded default (SQLite, in-process
# adapters): start-up time on a migrated database, then GET /api/v1/users/me with wrk.
# Loopback only; stops by itself. Needs wrk (Debian: apt-get install wrk) and a release build.
#
#   scripts/loadtest.sh [duration_secs] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${1:-15}
CONNECTIONS=${2:-32}
PORT=${PORT:-18080}
BIN=target/release/forge
DATA=$(mktemp -d)
trap 'kill "${PID:-}" 2>/dev/null || true; rm -rf "$DATA"' EXIT

cargo build --release --locked --quiet -p forge-server --bin forge
export FORGE_DATA_DIR="$DATA" FORGE_BIND="127.0.0.1:$PORT" RUST_LOG=warn

wait_ready() {
  for _ in $(seq 1 2000); do
    curl -fs "http://127.0.0.1:$PORT/health/ready" >/dev/null 2>&1 && return 0
    sleep 0.005
  done
  echo "server did not become ready" >&2
  return 1
}

# First start creates and migrates the database; the timed starts find it migrated.
"$BIN" serve & PID=$!; wait_ready; kill "$PID"; wait "$PID" 2>/dev/null || true
for i in 1 2 3; do
  start=$(date +%s%N)
  "$BIN" serve & PID=$!
  wait_ready
  end=$(date +%s%N)
  echo "start-up to ready (migrated database), run $i: $(( (end - start) / 1000000 )) ms"
  [ "$i" = 3 ] || { kill "$PID"; wait "$PID" 2>/dev/null || true; }
done

API="http://127.0.0.1:$PORT/api/v1"
curl -fs -X POST "$API/auth/register" -H 'content-type: application/json' \
  -d '{"email":"load@example.com","username":"loadtest","password":"Analytical-Engine-1843!"}' >/dev/null
TOKEN=$(curl -fs -X POST "$API/auth/login" -H 'content-type: application/json' \
  -d '{"email":"load@example.com","password":"Analytical-Engine-1843!"}' | sed -E 's/.*"access_token":"([^"]+)".*/\1/')

echo "GET /api/v1/users/me, ${DURATION}s, $CONNECTIONS connections:"
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "Authorization: Bearer $TOKEN" "$API/users/me"
echo "resident memory after the run: $(ps -o rss= -p "$PID" | awk '{printf "%.1f MiB", $1/1024}')"
