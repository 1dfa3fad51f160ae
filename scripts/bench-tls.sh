#!/usr/bin/env bash
# TLS benchmark (not a test): dockside vs nginx terminating TLS with the same ECDSA P-256
# certificate in front of the same static nginx backend, in one run:
#   1. HTTPS keep-alive, HTTP/1.1: wrk -t2 -c64 -d10s --latency
#   2. HTTPS keep-alive, h2:       h2load -c64 -m10 -n200000
#   3. full handshakes per second without resumption: $HS_PROCS parallel `openssl s_time -new`
#      for $HS_TIME s each (TLS 1.3, X25519, ECDSA P-256; handshake only, no HTTP request) — the
#      client's own handshake work shares the cores, equally for both servers.
# Clients connect to 127.0.0.1 (no SNI): dockside's site is DEFAULT_HOST, nginx's the default
# server. Prints a Markdown table (for docs/bench/tls.md).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s} HS_TIME=${HS_TIME:-10} HS_PROCS=${HS_PROCS:-4}
BACKEND_PORT=18281 NGINX_PORT=18282 HTTP_PORT=18283 DOCKSIDE_PORT=18284
HOST=bench.local
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

. scripts/bench-lib.sh
require_tools nginx:nginx wrk:wrk h2load:nghttp2-client openssl:openssl curl:curl

# One CA and one P-256 leaf for $HOST, used by both servers.
test_cert "$HOST"

nginx_conf backend 1 "server { listen 127.0.0.1:$BACKEND_PORT; location / { return 200 'hello'; } }"
# nginx-proxy's TLS settings (Mozilla-Intermediate, shared session cache, tickets off), its
# request headers (bench-lib.sh) and its HSTS header, as dockside sends them.
nginx_conf proxy auto "upstream be { server 127.0.0.1:$BACKEND_PORT; keepalive 128; keepalive_requests 1000000; }
  ssl_protocols TLSv1.2 TLSv1.3; ssl_prefer_server_ciphers off;
  ssl_ciphers 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305';
  ssl_session_cache shared:SSL:50m; ssl_session_timeout 5m; ssl_session_tickets off;
  http2_max_concurrent_streams 128;
  $NGINX_PROXY_HEADERS
  server { listen 127.0.0.1:$NGINX_PORT ssl http2 default_server; server_name $HOST;
    ssl_certificate $WORK/certs/$HOST.crt; ssl_certificate_key $WORK/certs/$HOST.key;
    keepalive_requests 1000000;
    add_header Strict-Transport-Security \"max-age=31536000\" always;
    location / { proxy_pass http://be; } }"

cat > "$WORK/routes.toml" <<TOML
[[site]]
VIRTUAL_HOST = "$HOST"
backends = ["127.0.0.1:$BACKEND_PORT"]
TOML
DOCKSIDE_BIN=${DOCKSIDE_BIN:-target/release/dockside}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet --bin dockside
DEFAULT_HOST=$HOST DISABLE_ACCESS_LOGS=true DOCKSIDE_ADMIN=${DOCKSIDE_ADMIN:-off} DOCKER_HOST=off \
  "$DOCKSIDE_BIN" --http "127.0.0.1:$HTTP_PORT" --https "127.0.0.1:$DOCKSIDE_PORT" \
  --certs-dir "$WORK/certs" --routes "$WORK/routes.toml" 2>"$WORK/dockside.log" &
DOCKSIDE_PID=$!
PIDS+=($DOCKSIDE_PID)

wait_ok() { # port
  for _ in $(seq 1 100); do
    curl -sf -o /dev/null --resolve "$HOST:$1:127.0.0.1" --cacert "$WORK/ca.pem" "https://$HOST:$1/" && return 0
    sleep 0.1
  done
  echo "nothing serves HTTPS on port $1" >&2; cat "$WORK/dockside.log" "$WORK/proxy/stderr" >&2; return 1
}
wait_ok "$NGINX_PORT"; wait_ok "$DOCKSIDE_PORT"

wrk_run() { # port → "req/s p50 p99"
  local out
  out=$(wrk -t2 -c64 -d"$DURATION" --latency "https://127.0.0.1:$1/")
  echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(awk '$1=="50%" {print $2}' <<<"$out") $(awk '$1=="99%" {print $2}' <<<"$out")"
}
h2_run() { # port → "req/s mean max p50 p99" (percentiles from h2load's per-request log, in ms)
  local out pct
  out=$(h2load -c64 -m10 -n"${H2_N:-200000}" --log-file="$WORK/h2.log" "https://127.0.0.1:$1/")
  grep -q "${H2_N:-200000} succeeded" <<<"$out" || { echo "h2load: not every request succeeded" >&2; echo "$out" >&2; }
  pct=$(cut -f3 "$WORK/h2.log" | sort -n | awk '{v[NR]=$1} END {printf "%.2fms %.2fms", v[int(NR*0.50)]/1000, v[int(NR*0.99)]/1000}')
  rm -f "$WORK/h2.log"
  echo "$(awk '/^finished in/ {print $4}' <<<"$out") $(awk '/^time for request:/ {print $6}' <<<"$out") $(awk '/^time for request:/ {print $5}' <<<"$out") $pct"
}
hs_run() { # port → handshakes/s summed over HS_PROCS clients
  local i
  for i in $(seq 1 "$HS_PROCS"); do
    openssl s_time -connect "127.0.0.1:$1" -new -time "$HS_TIME" > "$WORK/hs.$i" 2>&1 &
  done
  wait $(jobs -p | tail -n "$HS_PROCS") 2>/dev/null || true
  cat "$WORK"/hs.* | awk '/connections in [0-9.]+s;/ {n+=$1; t=$4} /connections in [0-9]+ real seconds/ {rn+=$1; rt=$4}
    END { if (rt > 0) printf "%.0f\n", rn/rt; else if (t > 0) printf "%.0f\n", n/t; else print "?" }'
  rm -f "$WORK"/hs.*
}

echo "load before: $(uptime)" >&2
read -r N_RPS N_P50 N_P99 <<<"$(wrk_run "$NGINX_PORT")"
read -r D_RPS D_P50 D_P99 <<<"$(wrk_run "$DOCKSIDE_PORT")"
read -r N_H2 N_H2MEAN N_H2MAX N_H2P50 N_H2P99 <<<"$(h2_run "$NGINX_PORT")"
read -r D_H2 D_H2MEAN D_H2MAX D_H2P50 D_H2P99 <<<"$(h2_run "$DOCKSIDE_PORT")"
N_HS=$(hs_run "$NGINX_PORT")
D_HS=$(hs_run "$DOCKSIDE_PORT")
RSS=$(awk '/VmRSS/ {print $2}' "/proc/$DOCKSIDE_PID/status")

cat <<MD
Measured $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores shared by clients, proxies and backend;
\`uptime\` after the run: $(uptime | sed 's/.*load average/load average/').
Command: \`scripts/bench-tls.sh\` (release build; nginx $("$NGINX" -v 2>&1 | sed 's/.*\///'), \`worker_processes auto\`).

| measurement | nginx | dockside | dockside / nginx |
|---|---|---|---|
| HTTPS h1 keep-alive req/s (\`wrk -t2 -c64 -d$DURATION\`) | $N_RPS | $D_RPS | $(awk -v a="$D_RPS" -v b="$N_RPS" 'BEGIN{printf "%.2f×", a/b}') |
| h1 latency p50 / p99 | $N_P50 / $N_P99 | $D_P50 / $D_P99 | |
| h2 req/s (\`h2load -c64 -m10 -n${H2_N:-200000}\`) | $N_H2 | $D_H2 | $(awk -v a="$D_H2" -v b="$N_H2" 'BEGIN{printf "%.2f×", a/b}') |
| h2 time per request mean / max | $N_H2MEAN / $N_H2MAX | $D_H2MEAN / $D_H2MAX | |
| h2 time per request p50 / p99 (\`--log-file\`) | $N_H2P50 / $N_H2P99 | $D_H2P50 / $D_H2P99 | |
| full handshakes/s (${HS_PROCS}× \`openssl s_time -new -time $HS_TIME\`) | $N_HS | $D_HS | $(awk -v a="$D_HS" -v b="$N_HS" 'BEGIN{printf "%.2f×", a/b}') |

dockside RSS after the run: ${RSS} KiB.
MD
