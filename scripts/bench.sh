#!/usr/bin/env bash
# The benchmark harness, one command: builds in release, runs the real server on SQLite and on
# PostgreSQL (a fresh database, dropped afterwards) under wrk's load shapes, measures start-up
# time and resident memory, runs the reference servers of ../shared/bench/anchor in the same run
# when they are there, and writes the figures into docs/performance.md with a chart
# (docs/bench.png). Loopback only; bounded in time (about 6 minutes with the defaults on 2 cores).
#
#   scripts/bench.sh                     # or: make bench
#
# Knobs (environment):
#   BENCH_SECONDS=10        seconds per load shape
#   BENCH_IDLE_SECONDS=30   idling after the login storm before memory is read again
#   BENCH_DATABASES=sqlite,postgres,postgres+redis   (the last: with REDIS_URL, the read cache)
#   BENCH_REDIS_URL=redis://127.0.0.1:6379
#   BENCH_PG_HOST=127.0.0.1 BENCH_PG_PORT=5432 BENCH_PG_USER=postgres   (trust authentication)
#   BENCH_PORT=18090        Forge's port; the references take the next two
#   ANCHOR_DIR=../shared/bench/anchor    the reference servers (skipped when absent)
#   BENCH_WRITE_DOCS=0      measure and print only, leave docs/ alone
#   BENCH_REPORT_ONLY=1     rewrite docs/ from the last run (target/bench/results.json), measuring nothing
#   FORGE_HASHING__*        passed through to Forge (e.g. FORGE_HASHING__NICE=0 or FORGE_HASHING__POLICY=idle to compare)
#
# Needs: wrk (Debian: apt-get install -y wrk), psql and a PostgreSQL server for the PostgreSQL
# runs, Python 3 with matplotlib (pip install matplotlib).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${BENCH_REPORT_ONLY:-0}" = 1 ]; then
  exec python3 scripts/bench/bench.py
fi

export CARGO_INCREMENTAL=0
ANCHOR_DIR=${ANCHOR_DIR:-../shared/bench/anchor}
ANCHOR_TARGET=${ANCHOR_TARGET:-/tmp/anchor-target}

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
python3 -c 'import matplotlib' 2>/dev/null || { echo "matplotlib is missing: pip install matplotlib" >&2; exit 1; }

echo "building Forge (release)"
cargo build --release --locked -p forge-server --bin forge
cargo build --release --locked -p forge-infrastructure --example argon2_cost

if [ -f "$ANCHOR_DIR/Cargo.toml" ]; then
  echo "building the reference servers in $ANCHOR_DIR (target dir $ANCHOR_TARGET)"
  (cd "$ANCHOR_DIR" && CARGO_TARGET_DIR="$ANCHOR_TARGET" cargo build --release)
  export ANCHOR_BIN="$ANCHOR_TARGET/release"
else
  echo "no reference servers at $ANCHOR_DIR: Forge alone"
  export ANCHOR_BIN=""
fi

exec python3 scripts/bench/bench.py
