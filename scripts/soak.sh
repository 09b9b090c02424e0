#!/usr/bin/env bash
# A soak run: the release server under a steady mixed load (reads, writes, logins and refreshes,
# exports, WebSocket clients) for SOAK_MINUTES (15), sampling errors, latency and the server's
# memory every 10 s; writes a CSV and a summary to target/soak/. Too long for .ci/run.
#
#   scripts/soak.sh                                    # SQLite, 15 minutes
#   SOAK_DATABASE=postgres SOAK_REDIS_URL=redis://127.0.0.1:6379 SOAK_MINUTES=10 scripts/soak.sh
#
# Every knob (SOAK_RATE, SOAK_MEMBERS, SOAK_WS_CLIENTS, ...) is described in scripts/soak.py.
# Exits non-zero on any 5xx, connection error or dropped WebSocket, or when memory grows past the
# bound. It does not build: FORGE_BIN (default target/release/forge) must exist.
set -euo pipefail
cd "$(dirname "$0")/.."

FORGE_BIN=${FORGE_BIN:-target/release/forge}
if [ ! -x "$FORGE_BIN" ]; then
  echo "$FORGE_BIN is missing; build it first:" >&2
  echo "  cargo build --release --locked -p forge-server --bin forge" >&2
  exit 1
fi
if [ "${SOAK_DATABASE:-sqlite}" = postgres ]; then
  command -v psql >/dev/null || { echo "psql is missing (SOAK_DATABASE=postgres)" >&2; exit 1; }
fi
if [ -n "${SOAK_REDIS_URL:-}" ]; then
  command -v redis-cli >/dev/null || { echo "redis-cli is missing (SOAK_REDIS_URL)" >&2; exit 1; }
fi
python3 -c 'import websockets' 2>/dev/null \
  || echo "the Python package websockets is missing: the run goes on without WebSocket clients" >&2

export FORGE_BIN
exec python3 scripts/soak.py
