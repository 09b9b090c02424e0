#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo fuzz, libFuzzer) of the code that reads hostile input: every
# target in fuzz/fuzz_targets/ for SECONDS_PER_TARGET seconds (default 20), each starting from
# its seeds in fuzz/seeds/<target>/, copied into a scratch corpus under fuzz/corpus/ (ignored by
# git, kept between local runs). Exits non-zero if any target crashed (a panic, a failed assertion,
# a sanitizer report or an input taking over 10 s), naming the saved input and the command that
# reproduces it.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]
#
# Only stable Rust is installed: the nightly flags cargo fuzz passes to rustc are allowed with
# RUSTC_BOOTSTRAP=1. cargo-fuzz itself is installed from crates.io with `cargo install --locked`
# on the first run and found in ~/.cargo/bin afterwards. The fuzz crate is a workspace of its
# own with its own Cargo.lock and target directory (fuzz/target): the first build compiles every
# dependency again, instrumented.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

SECONDS_PER_TARGET=${1:-20}
CARGO_FUZZ_VERSION=0.13.2
# AddressSanitizer (cargo fuzz's default): the project forbids `unsafe`, but its dependencies
# (serde_json, the JWT and base64 crates, aws-lc) do not.
BUILD_FLAGS=(--sanitizer address)
# Per input: 10 s at most (a slower one is a denial of service and fails the run).
LIBFUZZER_FLAGS=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1)

case "$SECONDS_PER_TARGET" in '' | *[!0-9]*) echo "usage: $0 [seconds_per_target]" >&2; exit 2 ;; esac

export RUSTC_BOOTSTRAP=1
unset CARGO_TARGET_DIR

if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

# The lock file is the committed one (cargo fuzz has no --locked of its own). When a crate of the
# project gains a dependency, `cargo metadata --format-version 1 >/dev/null` in fuzz/ adds just that
# to fuzz/Cargo.lock (it was made from the root Cargo.lock, and keeps its versions).
if ! cargo fetch --locked --quiet; then
  echo "fuzz/Cargo.lock is out of date: run \`cargo metadata --format-version 1 >/dev/null\` in fuzz/" >&2
  exit 1
fi

started=$(date +%s)
cargo fuzz build "${BUILD_FLAGS[@]}"
echo "fuzz build: $(($(date +%s) - started)) s"

mkdir -p target/fuzz-logs
failed=()
summary=()
for target in $(cargo fuzz list); do
  corpus="corpus/$target"
  mkdir -p "$corpus" "artifacts/$target"
  [ -d "seeds/$target" ] && cp -n "seeds/$target"/* "$corpus"/
  log="target/fuzz-logs/$target.log"
  marker="target/fuzz-logs/$target.start"
  touch "$marker"
  echo "--- $target: ${SECONDS_PER_TARGET} s from $(find "$corpus" -type f | wc -l) inputs"
  status=0
  target_started=$(date +%s)
  cargo fuzz run "${BUILD_FLAGS[@]}" "$target" "$corpus" -- \
    -max_total_time="$SECONDS_PER_TARGET" "${LIBFUZZER_FLAGS[@]}" >"$log" 2>&1 || status=$?
  grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log" || true
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n1 || true)
  execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -n1)
  corp=$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"$done_line")
  rate=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log" | tail -n1)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$done_line")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$done_line")
  if [ "$status" -ne 0 ]; then
    failed+=("$target")
    summary+=("$target: CRASHED after ${execs:-?} executions")
    echo "!!! $target failed (exit $status); the whole log is $PWD/$log"
    grep -m1 -A4 -E 'panicked at|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)' "$log" || true
    grep -E '^SUMMARY:' "$log" || true
    for artifact in $(find "artifacts/$target" -type f -newer "$marker" 2>/dev/null); do
      echo "!!! input: $PWD/$artifact"
      echo "!!! reproduce: (cd $PWD && RUSTC_BOOTSTRAP=1 cargo fuzz run ${BUILD_FLAGS[*]} $target $artifact)"
      echo "!!! minimize:  (cd $PWD && RUSTC_BOOTSTRAP=1 cargo fuzz tmin ${BUILD_FLAGS[*]} $target $artifact)"
    done
  else
    summary+=("$target: ${execs:-?} executions (${rate:-?}/s), cov ${cov:-?}, features ${ft:-?}, corpus ${corp:-?} inputs, no crash")
  fi
  rm -f "$marker"
  summary[-1]+=" ($(($(date +%s) - target_started)) s)"
done

echo
echo "=== fuzzing summary (${SECONDS_PER_TARGET} s per target, total $(($(date +%s) - started)) s with the build)"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "crashed: ${failed[*]}" >&2
  exit 1
fi
