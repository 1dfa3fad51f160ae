#!/usr/bin/env bash
# HTTP/3 benchmark (not a test): h3 vs h2 through the same dockside, same site, same static
# nginx backend, in one run. h2: h2load -c$CONNS -m$STREAMS for $SECONDS s; h3: benches/h3load.rs
# (there is no h3 load tool on Debian) with the same connections × streams. Besides the request
# rate, dockside's own CPU time (utime + stime from /proc) over each run gives CPU per request,
# which does not depend on how efficient the client is. Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_RUN=${SECONDS_RUN:-10} CONNS=${CONNS:-8} STREAMS=${STREAMS:-16}
BASE=${BENCH_PORT_BASE:-18380}
BACKEND_PORT=$BASE HTTP_PORT=$((BASE + 1)) DOCKSIDE_PORT=$((BASE + 2))
HOST=bench.local
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

. scripts/bench-lib.sh
require_tools nginx:nginx h2load:nghttp2-client openssl:openssl curl:curl
require_free_ports "$BACKEND_PORT" "$HTTP_PORT" "$DOCKSIDE_PORT"
test_cert "$HOST"
nginx_conf backend 1 "server { listen 127.0.0.1:$BACKEND_PORT; location / { return 200 'hello'; } }"

cat > "$WORK/routes.toml" <<TOML
[[site]]
VIRTUAL_HOST = "$HOST"
backends = ["127.0.0.1:$BACKEND_PORT"]
TOML
if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release --quiet --bin dockside
  cargo bench --quiet --bench h3load --no-run 2>/dev/null
fi
DOCKSIDE_BIN=${DOCKSIDE_BIN:-${CARGO_TARGET_DIR:-target}/release/dockside}
H3LOAD=$(ls -t "${CARGO_TARGET_DIR:-target}"/release/deps/h3load-* | grep -v '\.d$' | head -1)
ENABLE_HTTP3=true DEFAULT_HOST=$HOST DISABLE_ACCESS_LOGS=true DOCKSIDE_ADMIN=off DOCKER_HOST=off \
  "$DOCKSIDE_BIN" --http "127.0.0.1:$HTTP_PORT" --https "127.0.0.1:$DOCKSIDE_PORT" \
  --certs-dir "$WORK/certs" --routes "$WORK/routes.toml" 2>"$WORK/dockside.log" &
DOCKSIDE_PID=$!
PIDS+=($DOCKSIDE_PID)
for _ in $(seq 1 100); do
  curl -sf -o /dev/null --resolve "$HOST:$DOCKSIDE_PORT:127.0.0.1" --cacert "$WORK/ca.pem" \
    "https://$HOST:$DOCKSIDE_PORT/" && break
  sleep 0.1
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$DOCKSIDE_PID/stat"; }
TICK=$(getconf CLK_TCK)
# us_per_req TICKS_BEFORE TICKS_AFTER REQUESTS → dockside CPU µs per request
us_per_req() { awk -v a="$1" -v b="$2" -v n="$3" -v t="$TICK" 'BEGIN{printf "%.1f", (b-a)/t*1e6/n}'; }

echo "load before: $(uptime)" >&2
c0=$(cpu_ticks)
h2=$(h2load -c"$CONNS" -m"$STREAMS" -D"$SECONDS_RUN" --warm-up-time=1 "https://127.0.0.1:$DOCKSIDE_PORT/")
c1=$(cpu_ticks)
H2_N=$(awk '/^requests:/ {print $8}' <<<"$h2")
H2_RPS=$(awk '/^finished in/ {print $4}' <<<"$h2")
H2_CPU=$(us_per_req "$c0" "$c1" "$H2_N")

c0=$(cpu_ticks)
h3=$("$H3LOAD" "127.0.0.1:$DOCKSIDE_PORT" "$HOST" / "$CONNS" "$STREAMS" "$SECONDS_RUN" "$WORK/ca.pem")
c1=$(cpu_ticks)
H3_N=$(awk '{print $2}' <<<"$h3")
H3_RPS=$(awk '{print $6}' <<<"$h3")
H3_ERR=$(awk '{print $8}' <<<"$h3")
H3_CPU=$(us_per_req "$c0" "$c1" "$H3_N")

cat <<MD
Measured $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores shared by client, dockside and backend;
\`uptime\` after the run: $(uptime | sed 's/.*load average/load average/').
Command: \`scripts/bench-h3.sh\` (release build; $CONNS connections × $STREAMS streams, ${SECONDS_RUN}s each).

| protocol | client | requests | req/s | dockside CPU per request |
|---|---|---|---|---|
| h2 (TLS 1.3, TCP) | h2load -c$CONNS -m$STREAMS | $H2_N | $H2_RPS | ${H2_CPU} µs |
| h3 (QUIC) | benches/h3load.rs $CONNS×$STREAMS | $H3_N (errors: $H3_ERR) | $H3_RPS | ${H3_CPU} µs |

h3 / h2: $(awk -v a="$H3_RPS" -v b="$H2_RPS" 'BEGIN{printf "%.2f×", a/b}') the request rate,
$(awk -v a="$H3_CPU" -v b="$H2_CPU" 'BEGIN{printf "%.2f×", a/b}') the CPU per request.
MD
