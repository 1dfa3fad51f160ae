#!/usr/bin/env bash
# gRPC benchmark (not a test): unary calls through nginx `grpc_pass` (Debian nginx, one worker
# per core, upstream keepalive) and through dockside (release build, routes file,
# VIRTUAL_PROTO=grpc), both over h2c, in one run, against the same backends:
#   - "grpcio": the real grpcio server of the tests (tests/apps/grpc_server.py, /test.Echo/Unary);
#   - "static": an nginx h2c server answering every call with the same gRPC response (a
#     5-byte message and a `grpc-status: 0` trailer), so the proxies' own cost is visible
#     rather than Python's.
# The client is h2load with a pre-encoded request (`-d`, one gRPC frame) and gRPC's headers.
# Reports calls/s, h2load's mean/max time per call (it has no percentiles), and the proxy's
# CPU time per call (user+system ticks of all its processes / calls). Writes docs/bench/grpc.md.
#
#   scripts/bench-grpc.sh
#   CALLS=50000 CONNS=16 STREAMS=10 scripts/bench-grpc.sh
#   SKIP_BUILD=1 DOCKSIDE_BIN=path/to/dockside scripts/bench-grpc.sh   # a binary built elsewhere
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-lib.sh

CALLS=${CALLS:-40000} CONNS=${CONNS:-16} STREAMS=${STREAMS:-10}
BASE=${BENCH_PORT_BASE:-19100}
STATIC_PORT=$BASE NGINX_PORT=$((BASE + 1)) DOCKSIDE_PORT=$((BASE + 2))
HOST=bench.local
WORK=$(mktemp -d)
# nginx workers run as an unprivileged user: they read the static answer from here.
chmod 755 "$WORK"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  sleep 0.3
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

require_tools nginx:nginx h2load:nghttp2-client nghttp:nghttp2-client
/usr/bin/python3 -c 'import grpc' 2>/dev/null || { echo "grpcio is required: apt-get install -y python3-grpcio" >&2; exit 1; }
require_free_ports "$STATIC_PORT" "$NGINX_PORT" "$DOCKSIDE_PORT"
CLK_TCK=$(getconf CLK_TCK)

DOCKSIDE_BIN=${DOCKSIDE_BIN:-${CARGO_TARGET_DIR:-target}/release/dockside}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet --bin dockside

# The grpcio backend prints its port.
/usr/bin/python3 tests/apps/grpc_server.py > "$WORK/grpcio.out" 2>"$WORK/grpcio.log" &
PIDS+=($!)
for _ in $(seq 1 100); do grep -q '^PORT' "$WORK/grpcio.out" && break; sleep 0.1; done
GRPCIO_PORT=$(awk '/^PORT/ {print $2}' "$WORK/grpcio.out")
[ -n "$GRPCIO_PORT" ] || { cat "$WORK/grpcio.log" >&2; exit 1; }

# One request frame ("hello") and the static backend's response frame.
printf '\x00\x00\x00\x00\x05hello' > "$WORK/call.bin"
printf '\x00\x00\x00\x00\x05hello' > "$WORK/answer.bin"

# The static file module answers POST with 405: that error's page is the gRPC answer.
nginx_conf static 1 "
  server {
    listen 127.0.0.1:$STATIC_PORT http2;
    http2_max_requests 1000000;
    location / { error_page 405 =200 /answer.bin; return 405; }
    location = /answer.bin {
      internal; root $WORK; default_type application/grpc; add_trailer grpc-status 0;
    }
  }"

# nginx-proxy's upstream block (keepalive on) and its grpc location.
nginx_conf proxy auto "
  upstream grpcio { server 127.0.0.1:$GRPCIO_PORT; keepalive 32; }
  upstream static { server 127.0.0.1:$STATIC_PORT; keepalive 32; }
  server {
    listen 127.0.0.1:$NGINX_PORT http2;
    http2_max_requests 1000000;
    server_name $HOST;
    location /test.Echo/ { grpc_pass grpc://grpcio; grpc_set_header X-Real-IP \$remote_addr; }
    location / { grpc_pass grpc://static; grpc_set_header X-Real-IP \$remote_addr; }
  }"
NGINX_PID=${PIDS[-1]}

cat > "$WORK/routes.toml" <<TOML
[[site]]
VIRTUAL_HOST = "$HOST"
VIRTUAL_PATH = "/test.Echo/"
VIRTUAL_PROTO = "grpc"
HTTPS_METHOD = "noredirect"
backends = ["127.0.0.1:$GRPCIO_PORT"]

[[site]]
VIRTUAL_HOST = "$HOST"
VIRTUAL_PATH = "/"
VIRTUAL_PROTO = "grpc"
HTTPS_METHOD = "noredirect"
backends = ["127.0.0.1:$STATIC_PORT"]
TOML
DOCKSIDE_CMD="$DOCKSIDE_BIN --http 127.0.0.1:$DOCKSIDE_PORT --https off --docker-host off --admin off --routes $WORK/routes.toml"
DISABLE_ACCESS_LOGS=true CERTS_DIR="$WORK/certs" $DOCKSIDE_CMD 2>"$WORK/dockside.log" &
DOCKSIDE_PID=$!
PIDS+=($DOCKSIDE_PID)

# One call through each proxy to each backend must succeed (grpc-status 0 in the trailers,
# which nghttp prints and curl's header dump does not).
call() { # port path
  nghttp -v -d "$WORK/call.bin" -H ":authority: $HOST" -H 'content-type: application/grpc' \
    -H 'te: trailers' "http://127.0.0.1:$1$2" 2>&1
}
wait_call() { # port path
  for _ in $(seq 1 100); do
    call "$1" "$2" | grep -q 'grpc-status: 0$' && return 0
    sleep 0.1
  done
  echo "no gRPC answer on port $1 $2" >&2
  return 1
}
for port in "$NGINX_PORT" "$DOCKSIDE_PORT"; do
  wait_call "$port" /test.Echo/Unary || { cat "$WORK"/*/error.log "$WORK/dockside.log" >&2; exit 1; }
  wait_call "$port" /bench.Static/Unary || { cat "$WORK"/*/error.log "$WORK/dockside.log" >&2; exit 1; }
done

run() { # proxy-label pid port backend-label path
  local out before after calls rps mean max ok
  before=$(cpu_ticks $2 $(pgrep -P "$2" || true))
  out=$(h2load -n "$CALLS" -c "$CONNS" -m "$STREAMS" -t 1 -d "$WORK/call.bin" \
    -H ":authority: $HOST" -H 'content-type: application/grpc' -H 'te: trailers' "http://127.0.0.1:$3$5")
  after=$(cpu_ticks $2 $(pgrep -P "$2" || true))
  echo "$out" >&2
  ok=$(awk '/^requests:/ {print $8}' <<<"$out")
  [ "$ok" = "$CALLS" ] || { echo "$1 → $4: only $ok of $CALLS calls succeeded" >&2; exit 1; }
  rps=$(awk '/^finished in/ {print $4}' <<<"$out")
  mean=$(awk '/^time for request:/ {print $6}' <<<"$out")
  max=$(awk '/^time for request:/ {print $5}' <<<"$out")
  cpu=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v n="$CALLS" 'BEGIN {printf "%.1f", t / hz / n * 1e6}')
  printf '| %s | %s | %s | %s | %s | %s |\n' "$4" "$1" "$rps" "$mean" "$max" "$cpu" >> "$WORK/table"
  echo "$1 → $4: $rps calls/s, mean $mean, max $max, $cpu µs CPU/call" >&2
}

LOAD_BEFORE=$(uptime)
: > "$WORK/table"
for backend in "static /bench.Static/Unary" "grpcio /test.Echo/Unary"; do
  read -r label path <<<"$backend"
  run "nginx grpc_pass" "$NGINX_PID" "$NGINX_PORT" "$label" "$path"
  run "dockside" "$DOCKSIDE_PID" "$DOCKSIDE_PORT" "$label" "$path"
done
LOAD_AFTER=$(uptime)

mkdir -p docs/bench
{
  echo "## gRPC: nginx \`grpc_pass\` vs dockside \`VIRTUAL_PROTO=grpc\`"
  echo
  echo "Measured by \`scripts/bench-grpc.sh\` on $(date -u +%Y-%m-%d) ($(nproc) cores shared by h2load, the"
  echo "proxy and the backend; other jobs share the machine, so compare the rows, not the absolute"
  echo "numbers). Unary calls over h2c: \`h2load -n $CALLS -c $CONNS -m $STREAMS -t 1 -d call.bin -H 'content-type:"
  echo "application/grpc' -H 'te: trailers'\` (call.bin: one 5-byte gRPC message). Backends: \"static\", an"
  echo "nginx h2c server answering a fixed gRPC response with a \`grpc-status: 0\` trailer (shows the"
  echo "proxy's cost); \"grpcio\", the tests' Python grpcio $(/usr/bin/python3 -c 'import grpc; print(grpc.__version__)') server (\`/test.Echo/Unary\`), which is"
  echo "the bottleneck. nginx $("$NGINX" -v 2>&1 | sed 's/.*\///'): one worker per core, \`grpc_pass\` to an upstream with"
  echo "\`keepalive 32\`, access log off. dockside: release build, \`$DOCKSIDE_CMD\`, access logs off."
  echo "CPU/call: user+system time of all the proxy's processes during the run, divided by the calls."
  echo "h2load reports no percentiles: mean and max time per call."
  echo
  echo "| backend | proxy | calls/s | mean | max | proxy CPU/call (µs) |"
  echo "|---|---|---|---|---|---|"
  cat "$WORK/table"
  echo
  echo "Load: before \`$LOAD_BEFORE\`; after \`$LOAD_AFTER\`."
} > docs/bench/grpc.md
cat docs/bench/grpc.md
