#!/usr/bin/env bash
# Discovery latency benchmark: `docker start` returning → the Docker provider publishing the
# container, p50/p95 over 20 containers, with 0 and with 200 other (idle) containers running.
# Usage: scripts/bench-discovery.sh [RUNS] [OTHERS...]   (defaults: 20, "0 200")
# HTTP=1 also measures the first 200 from each backend (directly, until the proxy is wired).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-test-image.sh
runs=${1:-20}
shift || true
others=("${@:-0 200}")
cargo build -q --example discovery_latency
for n in ${others[@]}; do
  target/debug/examples/discovery_latency --runs "$runs" --others "$n" ${HTTP:+--http}
done
