#!/usr/bin/env bash
# What metrics and traces cost in throughput: the release build under wrk in four set-ups (no
# metrics or export; /metrics scraped every second; plus OTLP traces sampled at 10% to a local
# receiver; plus the collector unreachable). Writes docs/performance.md's telemetry section.
# Loopback only; about BENCH_ROUNDS x 4 x BENCH_SECONDS seconds (3 x 4 x 10 by default).
#
#   scripts/bench-telemetry.sh            # or: make bench-telemetry
#   BENCH_INSTRUCTIONS=0 skips the instruction counts (callgrind); BENCH_THROUGHPUT=0 the wrk runs
#
# Needs wrk (Debian: apt-get install -y wrk) and valgrind (callgrind_control) for the instruction counts.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_INCREMENTAL=0
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
cargo build --release --locked -p forge-server --bin forge
exec python3 scripts/bench/telemetry.py
