#!/usr/bin/env bash
# The whole suite, as CI runs it: install prerequisites, lint, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
# A clean CI clone gains nothing from incremental caches or debug line tables, and they cost
# disk: 2.3 GB of target/debug/incremental and ~18 MB of line tables in each of ~50 test
# binaries. CI once ran out of disk linking the tests; keep its footprint small.
if [ "${CI:-}" = true ]; then
  export CARGO_INCREMENTAL=0 CARGO_PROFILE_DEV_DEBUG=false
fi
df -h . | sed 's/^/disk before the build: /' | tail -1
# `cargo tree -i` exits 0 with nothing printed when ring is absent: judge by the output.
if [ -n "$(cargo tree -e normal -i ring 2>/dev/null)" ]; then
  echo "ring is in the dependency tree next to aws-lc-rs: rustls would panic choosing a provider" >&2
  exit 1
fi
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
status=0
cargo test || status=$?
df -h . | sed 's/^/disk after the tests: /' | tail -1
du -sh target 2>/dev/null | sed 's/^/target dir: /' || true
exit "$status"
