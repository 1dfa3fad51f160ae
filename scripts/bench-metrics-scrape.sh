#!/usr/bin/env bash
# /metrics scrape cost (not a test): dockside with SITES sites (default 1,000) in a routes file,
# one request to each (GET and POST alternate, so every site has request, byte and latency
# series), then SCRAPES scrapes of /metrics timed by curl; prints the median and worst scrape
# time, the body size and the series count.
#   DOCKSIDE_BIN=target/release/dockside scripts/bench-metrics-scrape.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SITES=${SITES:-1000} SCRAPES=${SCRAPES:-20}
BACKEND_PORT=${BACKEND_PORT:-18393} HTTP_PORT=${HTTP_PORT:-18394} ADMIN_PORT=${ADMIN_PORT:-18395}
WORK=$(mktemp -d)
PID= PIDS=()
cleanup() {
  [ -z "$PID" ] || { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; } || true
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

. scripts/bench-lib.sh
require_tools nginx:nginx curl:curl
require_free_ports "$BACKEND_PORT" "$HTTP_PORT" "$ADMIN_PORT"
nginx_conf backend 1 "server { listen 127.0.0.1:$BACKEND_PORT; location / { return 200 'hello'; } }"
for i in $(seq 1 "$SITES"); do
  printf '[[site]]\nVIRTUAL_HOST = "s%d.bench.local"\nbackends = ["127.0.0.1:%d"]\n\n' "$i" "$BACKEND_PORT"
done > "$WORK/routes.toml"
DOCKSIDE_BIN=${DOCKSIDE_BIN:-target/release/dockside}
DISABLE_ACCESS_LOGS=true DOCKSIDE_ADMIN="127.0.0.1:$ADMIN_PORT" DOCKER_HOST=off \
  "$DOCKSIDE_BIN" --http "127.0.0.1:$HTTP_PORT" --https off --certs-dir "$WORK/certs" \
  --routes "$WORK/routes.toml" 2>"$WORK/dockside.log" &
PID=$!
get() { curl -sf -o /dev/null -H "Host: s$SITES.bench.local" "http://127.0.0.1:$HTTP_PORT/"; }
for _ in $(seq 1 300); do get && break; sleep 0.2; done
get || { echo "dockside did not serve on $HTTP_PORT" >&2; cat "$WORK/dockside.log" >&2; exit 1; }
for i in $(seq 1 "$SITES"); do
  # `next`: the options below are this URL's only (curl applies them to every URL otherwise).
  [ "$i" = 1 ] || echo "next"
  echo "url = \"http://127.0.0.1:$HTTP_PORT/\""
  echo "header = \"Host: s$i.bench.local\""
  [ $((i % 2)) = 0 ] && echo 'data = "x"'
  echo "output = /dev/null"
done > "$WORK/curl.cfg"
RSS0=$(ps -o rss= -p "$PID" | tr -d ' ')
curl -sf -K "$WORK/curl.cfg"
RSS1=$(ps -o rss= -p "$PID" | tr -d ' ')
URL="http://127.0.0.1:$ADMIN_PORT/metrics"
curl -sf "$URL" > "$WORK/metrics.txt"
for _ in $(seq 1 "$SCRAPES"); do curl -sf -o /dev/null -w '%{time_total}\n' "$URL"; done | sort -n > "$WORK/times"
median=$(awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}' "$WORK/times")
worst=$(tail -1 "$WORK/times")
bytes=$(wc -c < "$WORK/metrics.txt")
series=$(grep -vc '^#' "$WORK/metrics.txt")
echo "$SITES sites: scrape median ${median}s, worst ${worst}s over $SCRAPES scrapes; $bytes bytes, $series series"
echo "RSS before the requests ${RSS0} KiB, after ${RSS1} KiB (the shards' cells of every site)"
