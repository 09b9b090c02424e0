#!/usr/bin/env bash
# WebSocket load, one command: builds the server and tools/ws-load in release, then on a fresh
# server (embedded SQLite, loopback) holds 10,000 idle connections of one user and reads the
# server's resident memory before and after, and on a second fresh server measures how long
# 100 `account.updated` events take to reach 1,000 connections. Prints a summary and writes it to
# target/ws-bench/results.txt (and a dated copy beside it). Takes about a minute and a half after
# the build.
#
#   scripts/ws-bench.sh
#
# Knobs (environment):
#   WS_BENCH_PORT=18300            the server's port
#   WS_BENCH_IDLE=10000            idle connections
#   WS_BENCH_SETTLE_SECS=10        wait after the last idle connection is ready before reading memory
#   WS_BENCH_PING_SECS=40          second reading, this long after the last one was ready (past the
#                                  server's 30 s ping, so every connection has answered one); 0 skips it
#   WS_BENCH_FANOUT=1000           connections of the fan-out run
#   WS_BENCH_EVENTS=100            events of the fan-out run
#   WS_BENCH_INTERVAL_MS=100       between two events
#   WS_BENCH_CONCURRENCY=200       handshakes in flight at once
#
# The load tool and the server share the machine's cores: on a small machine the latencies
# include the client's own scheduling.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${WS_BENCH_PORT:-18300}
IDLE=${WS_BENCH_IDLE:-10000}
SETTLE=${WS_BENCH_SETTLE_SECS:-10}
PING_WAIT=${WS_BENCH_PING_SECS:-40}
FANOUT=${WS_BENCH_FANOUT:-1000}
EVENTS=${WS_BENCH_EVENTS:-100}
INTERVAL_MS=${WS_BENCH_INTERVAL_MS:-100}
CONCURRENCY=${WS_BENCH_CONCURRENCY:-200}
# hashing.idle_release_secs is 10: the hashing threads give their 19 MiB blocks back 10 s after
# the registration and login, so memory is read after that.
AFTER_LOGIN_WAIT=12

BASE="http://127.0.0.1:$PORT"
OUT=target/ws-bench
FORGE=target/release/forge
LOAD=target/release/forge-ws-load
PASSWORD='Vq7#mLp2!xZr-Tide'
mkdir -p "$OUT"

for tool in curl jq awk; do
  command -v "$tool" >/dev/null || { echo "$tool is missing" >&2; exit 1; }
done

# 10,000 client sockets in the load tool's process, as many in the server's.
want_files=$((IDLE > FANOUT ? IDLE + 1024 : FANOUT + 1024))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want_files" ]; then
  ulimit -n "$want_files" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want_files" ]; then
  echo "open files: $(ulimit -n) allowed, $want_files needed (raise the hard limit, ulimit -Hn)" >&2
  exit 1
fi

echo "building forge and forge-ws-load (release)"
export CARGO_INCREMENTAL=0
cargo build --release --locked -p forge-server --bin forge
cargo build --release --locked -p forge-ws-load

SERVER_PID=""
LOAD_PID=""
SAMPLER_PID=""
DATA_DIR=""
cleanup() {
  for pid in "$SAMPLER_PID" "$LOAD_PID" "$SERVER_PID"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [ -n "$DATA_DIR" ]; then rm -rf "$DATA_DIR"; fi
}
trap cleanup EXIT

# Starts a fresh server (new data directory); $1 names its log.
start_server() {
  if curl -s -o /dev/null "$BASE/health/live"; then
    echo "something already answers on $BASE; set WS_BENCH_PORT" >&2
    exit 1
  fi
  DATA_DIR=$(mktemp -d /tmp/ws-bench-data.XXXXXX)
  FORGE_DATA_DIR="$DATA_DIR" \
    FORGE_BIND="127.0.0.1:$PORT" \
    FORGE_RATE_LIMIT__ENABLED=false \
    FORGE_REALTIME__MAX_CONNECTIONS=20000 \
    FORGE_REALTIME__MAX_CONNECTIONS_PER_USER=10000 \
    FORGE_AUTH__ACCESS_TOKEN_TTL_SECS=3600 \
    FORGE_JWT_SECRET=ws-bench-signing-key-not-a-secret-0123456789 \
    RUST_LOG=warn \
    "$FORGE" serve >"$OUT/server-$1.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    if curl -fs -o /dev/null "$BASE/health/ready"; then return 0; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "the server stopped at start-up:" >&2
      cat "$OUT/server-$1.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "the server was not ready within 30 s" >&2
  exit 1
}

stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  rm -rf "$DATA_DIR"
  DATA_DIR=""
}

# Registers and logs in one user; prints the access token.
login() {
  local body
  body=$(jq -nc --arg p "$PASSWORD" '{email: "ws-bench@example.com", username: "wsbench", password: $p}')
  curl -fsS -o /dev/null -X POST -H 'content-type: application/json' -d "$body" "$BASE/api/v1/auth/register"
  body=$(jq -nc --arg p "$PASSWORD" '{email: "ws-bench@example.com", password: $p}')
  curl -fsS -X POST -H 'content-type: application/json' -d "$body" "$BASE/api/v1/auth/login" | jq -er .access_token
}

# A line of /proc/PID/status, in kB (or a count for Threads).
proc_status() { awk -v key="$2:" '$1 == key {print $2}' "/proc/$1/status"; }
rss() { proc_status "$SERVER_PID" VmRSS; }
anon() { proc_status "$SERVER_PID" RssAnon; }
threads() { proc_status "$SERVER_PID" Threads; }
# The value of KEY= on the first line of FILE starting with PREFIX.
field() { { grep -m1 "^$2" "$1" || true; } | tr ' ' '\n' | awk -F= -v key="$3" '$1 == key {print $2}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k / 1024}'; }
# Server-side established connections on the port.
established() { ss -Htn state established "( sport = :$PORT )" 2>/dev/null | wc -l; }
# GET /health/live while loaded: status and seconds.
live() {
  local answer
  answer=$(curl -s -o /dev/null -m 10 -w '%{http_code} in %{time_total} s' "$BASE/health/live") || answer="no answer within 10 s ($answer)"
  echo "$answer"
}

# Waits until FILE has a line starting with "ready " or the process PID ends.
wait_ready_line() {
  for _ in $(seq 1 6000); do
    if grep -q '^ready ' "$1"; then return 0; fi
    if ! kill -0 "$2" 2>/dev/null; then return 1; fi
    sleep 0.1
  done
  return 1
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git status --porcelain --untracked-files=no 2>/dev/null | wc -l)

# ---- 1. idle connections ------------------------------------------------------------------
echo "idle: $IDLE connections on a fresh server"
start_server idle
export WS_LOAD_URL="$BASE"
WS_LOAD_TOKEN=$(login)
export WS_LOAD_TOKEN
sleep "$AFTER_LOGIN_WAIT"
IDLE_RSS_BEFORE=$(rss)
IDLE_ANON_BEFORE=$(anon)
IDLE_THREADS_BEFORE=$(threads)

"$LOAD" --concurrency "$CONCURRENCY" idle "$IDLE" --hold-secs 900 >"$OUT/idle.out" 2>"$OUT/idle.err" &
LOAD_PID=$!
if ! wait_ready_line "$OUT/idle.out" "$LOAD_PID"; then
  echo "the idle run did not open its connections:" >&2
  cat "$OUT/idle.out" "$OUT/idle.err" >&2
  exit 1
fi
IDLE_READY=$(field "$OUT/idle.out" "ready " connections)
IDLE_FAILED=$(field "$OUT/idle.out" "ready " failed)
IDLE_OPEN_SECS=$(field "$OUT/idle.out" "ready " secs)
echo "  $IDLE_READY ready, $IDLE_FAILED failed, in $IDLE_OPEN_SECS s; settling $SETTLE s"
sleep "$SETTLE"
IDLE_RSS_AFTER=$(rss)
IDLE_ANON_AFTER=$(anon)
IDLE_THREADS_AFTER=$(threads)
IDLE_ESTABLISHED=$(established)
IDLE_LIVE=$(live)
IDLE_HWM=$(proc_status "$SERVER_PID" VmHWM)
PING_LINE=""
if [ "$PING_WAIT" -gt "$SETTLE" ]; then
  echo "  waiting until $PING_WAIT s after ready (every connection pinged once)"
  sleep $((PING_WAIT - SETTLE))
  IDLE_RSS_PING=$(rss)
  IDLE_LIVE_PING=$(live)
  PING_LINE=$(awk -v b="$IDLE_RSS_BEFORE" -v a="$IDLE_RSS_PING" -v n="$IDLE_READY" -v l="$IDLE_LIVE_PING" -v s="$PING_WAIT" \
    'BEGIN {printf "after %d s (past the 30 s ping): VmRSS %.1f MiB, %.1f KiB per connection; /health/live %s", s, a / 1024, (a - b) / n, l}')
fi
kill -TERM "$LOAD_PID"
wait "$LOAD_PID" || true
LOAD_PID=""
IDLE_ENDED=$(field "$OUT/idle.out" "stopped " ended_after_ready)
IDLE_CLIENT_RSS=$(field "$OUT/idle.out" "stopped " client_rss_kib)
sleep 3
IDLE_RSS_RELEASED=$(rss)
IDLE_ESTABLISHED_LEFT=$(established)
stop_server

IDLE_PER_CONN=$(awk -v b="$IDLE_RSS_BEFORE" -v a="$IDLE_RSS_AFTER" -v n="$IDLE_READY" 'BEGIN {printf "%.1f", (a - b) / n}')
IDLE_ANON_PER_CONN=$(awk -v b="$IDLE_ANON_BEFORE" -v a="$IDLE_ANON_AFTER" -v n="$IDLE_READY" 'BEGIN {printf "%.1f", (a - b) / n}')
IDLE_MET=$(awk -v k="$IDLE_PER_CONN" -v n="$IDLE_READY" -v want="$IDLE" 'BEGIN {print (k <= 25 && n == want) ? "yes" : "no"}')

# ---- 2. fan-out latency -------------------------------------------------------------------
echo "fan-out: $FANOUT connections, $EVENTS events ${INTERVAL_MS} ms apart, on a fresh server"
start_server fanout
WS_LOAD_TOKEN=$(login)
export WS_LOAD_TOKEN
sleep "$AFTER_LOGIN_WAIT"
FAN_RSS_BEFORE=$(rss)
: >"$OUT/fanout-rss.txt"
(while kill -0 "$SERVER_PID" 2>/dev/null; do
  awk '$1 == "VmRSS:" {print $2}' "/proc/$SERVER_PID/status" >>"$OUT/fanout-rss.txt" 2>/dev/null || true
  sleep 0.2
done) &
SAMPLER_PID=$!
"$LOAD" --concurrency "$CONCURRENCY" fanout "$FANOUT" "$EVENTS" "$INTERVAL_MS" >"$OUT/fanout.out" 2>"$OUT/fanout.err" || {
  echo "the fan-out run failed:" >&2
  cat "$OUT/fanout.out" "$OUT/fanout.err" >&2
  exit 1
}
kill "$SAMPLER_PID" 2>/dev/null || true
wait "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=""
FAN_RSS_AFTER=$(rss)
FAN_RSS_MAX=$(sort -n "$OUT/fanout-rss.txt" | tail -1)
stop_server

FAN_READY=$(field "$OUT/fanout.out" "ready " connections)
FAN_FAILED=$(field "$OUT/fanout.out" "ready " failed)
REQ_OK=$(field "$OUT/fanout.out" "requests " ok)
REQ_FAILED=$(field "$OUT/fanout.out" "requests " failed)
EXPECTED=$(field "$OUT/fanout.out" "deliveries " expected)
RECEIVED=$(field "$OUT/fanout.out" "deliveries " received)
MISSING=$(field "$OUT/fanout.out" "deliveries " missing)
ENDED=$(field "$OUT/fanout.out" "deliveries " connections_ended)
lat() { field "$OUT/fanout.out" "latency_ms " "$1"; }
P50=$(lat p50); P90=$(lat p90); P99=$(lat p99); MAX=$(lat max)
RTT_P50=$(field "$OUT/fanout.out" "request_round_trip_ms " p50)
RTT_P99=$(field "$OUT/fanout.out" "request_round_trip_ms " p99)
FIRST_P50=$(field "$OUT/fanout.out" "event_first_delivery_ms " p50)
LAST_P50=$(field "$OUT/fanout.out" "event_last_delivery_ms " p50)
LAST_P99=$(field "$OUT/fanout.out" "event_last_delivery_ms " p99)
LAST_MAX=$(field "$OUT/fanout.out" "event_last_delivery_ms " max)
FAN_MET=$(awk -v p="${P99:-1e9}" -v m="${MISSING:-1}" -v n="$FAN_READY" -v want="$FANOUT" \
  'BEGIN {print (p < 100 && m == 0 && n == want) ? "yes" : "no"}')

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

SUMMARY="WebSocket benchmark, $STARTED, commit $COMMIT ($DIRTY tracked files modified)
machine: $(nproc) cores, $(uname -m), $(awk '$1 == "MemTotal:" {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo); client and server on the same machine over loopback; release builds; SQLite; RUST_LOG=warn
load average before / after: $LOAD_BEFORE / $LOAD_AFTER

idle: $IDLE connections of one user, $CONCURRENCY handshakes in flight
  opened: $IDLE_READY ready, $IDLE_FAILED failed, in $IDLE_OPEN_SECS s; $IDLE_ENDED ended while held; server-side established sockets: $IDLE_ESTABLISHED
  server VmRSS before: $(mib "$IDLE_RSS_BEFORE") ($IDLE_THREADS_BEFORE threads); ${SETTLE} s after all ready: $(mib "$IDLE_RSS_AFTER") ($IDLE_THREADS_AFTER threads); peak (VmHWM): $(mib "$IDLE_HWM")
  per connection: $IDLE_PER_CONN KiB of VmRSS (RssAnon: $IDLE_ANON_PER_CONN KiB)
  ${PING_LINE:-no reading after the ping}
  /health/live while holding: $IDLE_LIVE
  3 s after the clients left: $(mib "$IDLE_RSS_RELEASED"), $IDLE_ESTABLISHED_LEFT sockets still established; the load tool itself: $(mib "${IDLE_CLIENT_RSS:-0}")
  target <= 25 KiB per connection: $IDLE_MET

fan-out: $FANOUT connections of one user, $EVENTS PATCH /users/me ${INTERVAL_MS} ms apart
  opened: $FAN_READY ready, $FAN_FAILED failed; requests: $REQ_OK ok, $REQ_FAILED failed (round trip p50 $RTT_P50 ms, p99 $RTT_P99 ms)
  deliveries: $RECEIVED of $EXPECTED, missing $MISSING, connections ended $ENDED
  latency from sending the PATCH to receiving the event (ms): p50 $P50, p90 $P90, p99 $P99, max $MAX
  per event, first / last connection reached (ms): p50 $FIRST_P50 / $LAST_P50, last p99 $LAST_P99, last max $LAST_MAX
  server VmRSS before connecting: $(mib "$FAN_RSS_BEFORE"); highest during the run: $(mib "$FAN_RSS_MAX"); after: $(mib "$FAN_RSS_AFTER")
  target p99 < 100 ms, none missing: $FAN_MET"

echo
echo "$SUMMARY"
echo "$SUMMARY" >"$OUT/results.txt"
cp "$OUT/results.txt" "$OUT/results-$(date -u +%Y%m%dT%H%M%SZ).txt"
echo
echo "written to $OUT/results.txt; tool output in $OUT/idle.out, $OUT/fanout.out"
