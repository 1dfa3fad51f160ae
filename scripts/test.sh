#!/usr/bin/env bash
# The whole suite, as CI runs it: install prerequisites, lint, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
# `cargo tree -i` exits 0 with nothing printed when ring is absent: judge by the output.
if [ -n "$(cargo tree -e normal -i ring 2>/dev/null)" ]; then
  echo "ring is in the dependency tree next to aws-lc-rs: rustls would panic choosing a provider" >&2
  exit 1
fi
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo test
