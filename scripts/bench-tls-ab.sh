#!/usr/bin/env bash
# Before/after over TLS (not a test): two dockside builds side by side in front of one static
# nginx backend, the same certificate, measured in turns for $ROUNDS rounds so that machine load
# falls on both alike:
#   h2: h2load -c64 -m10 -n$H2_N      h1: wrk -t2 -c64 -d$DURATION
# and for each run the server's CPU time per request (user+system of all its threads), which
# swings less than req/s on a shared machine. Prints a Markdown table (medians of the rounds).
#   DOCKSIDE_BIN=new/dockside BASELINE_BIN=old/dockside scripts/bench-tls-ab.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5} H2_N=${H2_N:-200000} DURATION=${DURATION:-10s}
BASE=${BENCH_PORT_BASE:-18380}
BACKEND_PORT=$BASE A_HTTP=$((BASE + 1)) A_TLS=$((BASE + 2)) B_HTTP=$((BASE + 3)) B_TLS=$((BASE + 4))
HOST=bench.local
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

. scripts/bench-lib.sh
require_tools nginx:nginx wrk:wrk h2load:nghttp2-client openssl:openssl curl:curl
require_free_ports "$BACKEND_PORT" "$A_HTTP" "$A_TLS" "$B_HTTP" "$B_TLS"
: "${DOCKSIDE_BIN:?set DOCKSIDE_BIN to the build to measure}" "${BASELINE_BIN:?set BASELINE_BIN to the build to compare with}"

test_cert "$HOST"
nginx_conf backend 1 "server { listen 127.0.0.1:$BACKEND_PORT; location / { return 200 'hello'; } }"
cat > "$WORK/routes.toml" <<TOML
[[site]]
VIRTUAL_HOST = "$HOST"
backends = ["127.0.0.1:$BACKEND_PORT"]
TOML

start() { # BIN HTTP_PORT TLS_PORT NAME → pid in $STARTED
  DEFAULT_HOST=$HOST DISABLE_ACCESS_LOGS=true DOCKSIDE_ADMIN=off DOCKER_HOST=off \
    "$1" --http "127.0.0.1:$2" --https "127.0.0.1:$3" \
    --certs-dir "$WORK/certs" --routes "$WORK/routes.toml" 2>"$WORK/$4.log" &
  STARTED=$!
  PIDS+=("$STARTED")
  for _ in $(seq 1 100); do
    curl -sf -o /dev/null --resolve "$HOST:$3:127.0.0.1" --cacert "$WORK/ca.pem" "https://$HOST:$3/" && return 0
    sleep 0.1
  done
  echo "$4 does not serve HTTPS on port $3" >&2; cat "$WORK/$4.log" >&2; exit 1
}
start "$DOCKSIDE_BIN" "$A_HTTP" "$A_TLS" new; A_PID=$STARTED
start "$BASELINE_BIN" "$B_HTTP" "$B_TLS" old; B_PID=$STARTED
TICK=$(getconf CLK_TCK)

h2_run() { # PORT PID → "req/s cpu-µs/req"
  local t0 t1 out
  t0=$(cpu_ticks "$2")
  out=$(h2load -c64 -m10 -n"$H2_N" "https://127.0.0.1:$1/")
  t1=$(cpu_ticks "$2")
  grep -q "$H2_N succeeded" <<<"$out" || { echo "h2load: not every request succeeded" >&2; echo "$out" >&2; exit 1; }
  echo "$(awk '/^finished in/ {print $4}' <<<"$out") $(awk -v d=$((t1 - t0)) -v n="$H2_N" -v hz="$TICK" 'BEGIN{printf "%.1f", d/hz*1e6/n}')"
}
h1_run() { # PORT PID → "req/s cpu-µs/req"
  local t0 t1 out n
  t0=$(cpu_ticks "$2")
  out=$(wrk -t2 -c64 -d"$DURATION" "https://127.0.0.1:$1/")
  t1=$(cpu_ticks "$2")
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(awk -v d=$((t1 - t0)) -v n="$n" -v hz="$TICK" 'BEGIN{printf "%.1f", d/hz*1e6/n}')"
}
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

: > "$WORK/runs"
for r in $(seq 1 "$ROUNDS"); do
  # Alternate which build goes first in a round.
  if [ $((r % 2)) -eq 1 ]; then order="A B"; else order="B A"; fi
  for who in $order; do
    if [ "$who" = A ]; then port=$A_TLS pid=$A_PID; else port=$B_TLS pid=$B_PID; fi
    echo "$who h2 $(h2_run "$port" "$pid")" >> "$WORK/runs"
    echo "$who h1 $(h1_run "$port" "$pid")" >> "$WORK/runs"
  done
done

col() { awk -v w="$1" -v p="$2" -v c="$3" '$1==w && $2==p {print $c}' "$WORK/runs"; }
cat <<MD
Measured $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores shared by clients, servers and backend; $ROUNDS rounds in turns.
Command: \`DOCKSIDE_BIN=$DOCKSIDE_BIN BASELINE_BIN=$BASELINE_BIN scripts/bench-tls-ab.sh\`

| over TLS | this build req/s | earlier build req/s | this build CPU µs/req | earlier build CPU µs/req | req/s of every run (this / earlier) |
|---|---|---|---|---|---|
MD
for p in h2 h1; do
  echo "| $p | $(col A $p 3 | median) | $(col B $p 3 | median) | $(col A $p 4 | median) | $(col B $p 4 | median) | $(col A $p 3 | tr '\n' ' ')/ $(col B $p 3 | tr '\n' ' ')|"
done
