#!/usr/bin/env bash
# cargo-deny over Cargo.lock (deny.toml), offline: advisories come from the copy of the RustSec
# database at $ADVISORY_DB (default /work/shared/advisory-db), made into the git repository
# cargo-deny expects under target/advisory-dbs/ and read with `--offline`.
#
# cargo-deny itself is installed from crates.io with `cargo install --locked` on the first run
# (about ten minutes on two cores) and found in ~/.cargo/bin afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

DENY_VERSION=0.20.2
ADVISORY_DB=${ADVISORY_DB:-/work/shared/advisory-db}

if ! cargo deny --version 2>/dev/null | grep -q "$DENY_VERSION"; then
  cargo install --locked cargo-deny --version "$DENY_VERSION"
fi
[ -d "$ADVISORY_DB/crates" ] || { echo "no advisory database at $ADVISORY_DB" >&2; exit 1; }

# Where cargo-deny looks for the database named in deny.toml: it prints it at debug level. (It
# names the directory after a hash of the URL; asking it keeps this script out of that detail.)
# (This first run fails, since the database is not there yet.)
DB_DIR=$( (cargo deny --offline -L debug check advisories 2>&1 || true) |
  sed -nE "s/.*Opening advisory database at '([^']+)'.*/\1/p" | head -n1)
[ -n "$DB_DIR" ] || { echo "could not find where cargo-deny reads the advisory database" >&2; exit 1; }
case "$DB_DIR" in /*) ;; *) DB_DIR="$PWD/$DB_DIR" ;; esac

rm -rf "$DB_DIR"
mkdir -p "$DB_DIR"
cp -r "$ADVISORY_DB/." "$DB_DIR/"
chmod -R u+w "$DB_DIR"
git -C "$DB_DIR" init -q -b main
git -C "$DB_DIR" add -A
git -C "$DB_DIR" -c user.name=forge-ci -c user.email=ci@localhost commit -q -m "offline copy"

# `cargo metadata`, which cargo-deny runs offline, wants every crate of Cargo.lock on disk, the
# other platforms' too (a build fetches only this one's): fetch them from the registry first.
cargo fetch --locked --quiet

echo "advisory database: offline copy of $(grep -oE 'commit [0-9a-f]{40} of [0-9-]+' "$ADVISORY_DB/SNAPSHOT.md" || echo 'unknown date'); later advisories are not checked"
cargo deny --locked --offline check --show-stats
