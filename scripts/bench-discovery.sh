#!/usr/bin/env bash
# Discovery latency benchmark: `docker start` returning → (a) the Docker provider publishing the
# container and (b) the first 200 through a release dockside binary (Host: web<i>.bench.test,
# polled every ms), p50/p95 over 20 containers, with 0 and with 200 other (idle busybox)
# containers running and watched.
# Usage: scripts/bench-discovery.sh [RUNS] [OTHERS...]   (defaults: 20, "0 200")
# HTTP=1 also measures the first 200 from each backend directly (the floor: httpd start-up).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-test-image.sh
runs=${1:-20}
shift || true
others=("${@:-0 200}")
cargo build -q --release --bin dockside
cargo build -q --example discovery_latency
echo "# $(date -u +%FT%TZ) $(docker version --format 'Docker {{.Server.Version}}') load: $(uptime)"
for n in ${others[@]}; do
  target/debug/examples/discovery_latency --runs "$runs" --others "$n" \
    --dockside target/release/dockside ${HTTP:+--http}
done
