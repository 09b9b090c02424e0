#!/usr/bin/env bash
# A bounded local run of the bulk creation: POST /api/v1/users/bulk with 1000 accounts against a
# release build, timed by curl, three times. Loopback only; stops by itself.
#
#   scripts/bulk-load.sh [runs] [accounts]
#
# On the embedded default (SQLite) by default; with DATABASE_URL=postgres://... it runs on that
# database instead (migrating it first), creating accounts with names unique to the run.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${1:-3}
COUNT=${2:-1000}
PORT=${PORT:-18081}
BIN=target/release/forge
DATA=$(mktemp -d)
trap 'kill "${PID:-}" 2>/dev/null || true; rm -rf "$DATA"' EXIT

cargo build --release --locked --quiet -p forge-server --bin forge
export FORGE_DATA_DIR="$DATA" FORGE_BIND="127.0.0.1:$PORT" RUST_LOG=warn
export FORGE_ADMIN_EMAIL="bulk-admin@example.com" FORGE_ADMIN_USERNAME="bulk_admin" FORGE_ADMIN_PASSWORD="Analytical-Engine-1843!"
if [ -n "${DATABASE_URL:-}" ]; then
  "$BIN" migrate up >/dev/null
fi

"$BIN" serve & PID=$!
for _ in $(seq 1 2000); do
  curl -fs "http://127.0.0.1:$PORT/health/ready" >/dev/null 2>&1 && break
  sleep 0.005
done

API="http://127.0.0.1:$PORT/api/v1"
TOKEN=$(curl -fs -X POST "$API/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"$FORGE_ADMIN_EMAIL\",\"password\":\"$FORGE_ADMIN_PASSWORD\"}" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')

database=sqlite
[ -z "${DATABASE_URL:-}" ] || database=postgres
echo "cores: $(nproc); argon2id m=19456 KiB, t=2, p=1; database: $database; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq 1 "$RUNS"); do
  tag="r$run$(date +%s)"
  body="$DATA/bulk-$run.json"
  {
    printf '['
    for i in $(seq 1 "$COUNT"); do
      [ "$i" = 1 ] || printf ','
      printf '{"email":"%s-%d@example.com","username":"%s_%d","password":"Vq7#mLp2!xZr-Tide"}' "$tag" "$i" "$tag" "$i"
    done
    printf ']'
  } >"$body"
  # The access token lives 15 minutes: plenty for a few runs.
  result=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -X POST "$API/users/bulk" \
    -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' --data-binary "@$body")
  echo "run $run: POST /users/bulk with $COUNT accounts ($(wc -c <"$body") bytes): status ${result% *}, ${result#* } s"
done
echo "load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
