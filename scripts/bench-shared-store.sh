#!/usr/bin/env bash
# Shared-store propagation benchmark (issue 19 part 2): three release dockside replicas sharing
# ACME state through a real three-member etcd cluster (`--store`), Pebble validating HTTP-01
# against one of them. For RUNS new hosts (default 20, plus one untimed warm-up that registers
# the ACME account) it measures, from the replicas' own logs (RFC 3339 timestamps, one clock):
#   stored→live = the issuing replica's "certificate stored in the shared store" → each other
#                 replica's watcher logging "certificate written and live" for that host
#                 (etcd put, watch event, bundle decoded, files written atomically with fsyncs,
#                 directory rescanned and the new certificate map published)
# and prints p50/p95/max over the 2×RUNS samples. The harness is tests/shared_store.rs
# (`bench_issued_on_one_served_by_all`, one host in the suite, RUNS here); the replicas run the release
# binary (DOCKSIDE_BIN=path overrides it, e.g. the image build's static binary).
# Usage: scripts/bench-shared-store.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x /usr/bin/etcd ]] || { echo "/usr/bin/etcd missing: apt-get install etcd-server" >&2; exit 1; }
command -v etcdctl >/dev/null || { echo "etcdctl missing: apt-get install etcd-client" >&2; exit 1; }
[[ -x /usr/bin/pebble ]] || { echo "/usr/bin/pebble missing: apt-get install pebble" >&2; exit 1; }
if [[ -z ${DOCKSIDE_BIN:-} ]]; then
  cargo build -q --release --bin dockside
  DOCKSIDE_BIN=$PWD/${CARGO_TARGET_DIR:-target}/release/dockside
fi
DOCKSIDE_BIN=$DOCKSIDE_BIN RUNS=${1:-20} cargo test -q --test shared_store \
  bench_issued_on_one_served_by_all -- --exact --nocapture 2>&1 |
  grep -E '^issued on one replica|test result'
