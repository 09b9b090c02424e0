#!/usr/bin/env bash
# The browser end-to-end test in one command: headless Chromium runs the single-page app of this
# folder (served on its own origin) against a real `forge serve` in refresh-cookie mode, through
# register, login, refresh, the WebSocket (ready, ping, export events) and logout (close 4001).
#
#   bash tests/browser/run.sh
#
# Installs what is missing (Chromium with apt-get, playwright-core with `npm ci`), starts the
# server on a fresh data dir and the page server, each on a free port of 127.0.0.1, runs run.mjs
# and always stops both. Needs Node 20 or later.
#
# Environment: FORGE_BIN (default <repo>/target/debug/forge; it is not built here), CHROMIUM
# (default /usr/bin/chromium), E2E_TIMEOUT_MS (default 60000), E2E_KEEP=1 to keep the temp dir
# with the server's log.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
FORGE_BIN="${FORGE_BIN:-$ROOT/target/debug/forge}"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

log() { printf 'browser e2e: %s\n' "$*"; }
fail() { printf 'browser e2e: %s\n' "$*" >&2; exit 1; }

# --- what must be installed -------------------------------------------------------------------
command -v node >/dev/null || fail "node is not installed (Node 20 or later is needed)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || fail "node $(node --version) is too old: Node 20 or later is needed"
[ -x "$FORGE_BIN" ] || fail "no server binary at $FORGE_BIN (build it with: cargo build -p forge-server --bin forge)"

if [ ! -x "$CHROMIUM" ]; then
  [ "$CHROMIUM" = /usr/bin/chromium ] || fail "CHROMIUM=$CHROMIUM is not an executable"
  log "installing Chromium (apt-get)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium >/dev/null
  [ -x "$CHROMIUM" ] || fail "apt-get did not install $CHROMIUM"
fi

# playwright-core at the version package-lock.json pins; `npm ci` when it is absent or another.
if ! (cd "$HERE" && node -e '
  const want = require("./package-lock.json").packages["node_modules/playwright-core"].version;
  const have = require("./node_modules/playwright-core/package.json").version;
  process.exit(want === have ? 0 : 1);' 2>/dev/null); then
  log "installing playwright-core (npm ci)"
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
fi

# --- servers ----------------------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/forge-browser-e2e.XXXXXX")"
FORGE_PID=""
PAGE_PID=""
status=1

stop() {
  local pid="$1"
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  stop "$PAGE_PID"
  stop "$FORGE_PID"
  if [ "$status" -ne 0 ] && [ -f "$WORK/forge.log" ]; then
    echo "--- last lines of the server's log ($WORK/forge.log) ---" >&2
    tail -n 40 "$WORK/forge.log" >&2 || true
  fi
  if [ "$status" -eq 0 ] && [ "${E2E_KEEP:-0}" != 1 ]; then
    rm -rf "$WORK"
  else
    echo "browser e2e: logs kept in $WORK" >&2
  fi
}
trap 'status=$?; cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The page server picks its own free port and writes it down once it listens.
node "$HERE/serve.mjs" --port 0 --port-file "$WORK/page.port" >"$WORK/page.log" 2>&1 &
PAGE_PID=$!
for _ in $(seq 1 100); do
  [ -s "$WORK/page.port" ] && break
  kill -0 "$PAGE_PID" 2>/dev/null || { cat "$WORK/page.log" >&2; fail "the page server exited"; }
  sleep 0.1
done
[ -s "$WORK/page.port" ] || fail "the page server did not start within 10 s"
PAGE_PORT="$(cat "$WORK/page.port")"

# A free port for the API: bound by the system, released, then taken by the server at once.
API_PORT="$(node -e '
  const s = require("net").createServer();
  s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')"

mkdir -p "$WORK/data"
# Run from the temp dir with a scrubbed database environment: the embedded SQLite database and
# in-process adapters, whatever the caller's shell or a forge.toml in the working tree says.
(
  cd "$WORK"
  exec env -u DATABASE_URL -u REDIS_URL -u FORGE_CONFIG \
    FORGE_DATA_DIR="$WORK/data" \
    FORGE_BIND="127.0.0.1:$API_PORT" \
    FORGE_PUBLIC_URL="http://localhost:$PAGE_PORT" \
    FORGE_AUTH__REFRESH_COOKIE=true \
    FORGE_RATE_LIMIT__ENABLED=false \
    RUST_LOG="${RUST_LOG:-info}" \
    "$FORGE_BIN" serve
) >"$WORK/forge.log" 2>&1 &
FORGE_PID=$!

API_URL="http://localhost:$API_PORT"
node -e '
  const [url, pid] = process.argv.slice(1);
  const deadline = Date.now() + 60000;
  const alive = () => { try { process.kill(Number(pid), 0); return true; } catch { return false; } };
  (async () => {
    for (;;) {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
        if (res.status === 200) process.exit(0);
      } catch {}
      if (!alive()) { console.error("the server exited during start-up"); process.exit(1); }
      if (Date.now() > deadline) { console.error(`${url} did not answer 200 within 60 s`); process.exit(1); }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();' "http://127.0.0.1:$API_PORT/health/ready" "$FORGE_PID" || fail "the server did not become ready"

log "server $API_URL (pid $FORGE_PID), page http://localhost:$PAGE_PORT (pid $PAGE_PID)"

# --- the browser ------------------------------------------------------------------------------
node "$HERE/run.mjs" --page "http://localhost:$PAGE_PORT/" --api "$API_URL"
