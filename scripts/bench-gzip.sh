#!/usr/bin/env bash
# Compression benchmark (not a test; issue 14): gzip of a 100 KiB JSON body, dockside against
# nginx's `gzip on` at the same level (1, nginx's default `gzip_comp_level`), both in front of
# the same static nginx backend, in one run. Reports req/s, proxy CPU µs per request (as
# scripts/bench.sh measures it) and the bytes of one compressed response.
#
#   scripts/bench-gzip.sh                   # DURATION=10s ROUNDS=3 by default
#   LEVEL=5 scripts/bench-gzip.sh           # another level on both sides
#   DOCKSIDE_BIN=path/to/dockside scripts/bench-gzip.sh   # a binary already built
#
# dockside reads `COMPRESSION = "gzip"` and `COMPRESSION_LEVEL` from its routes file. A build
# that does not compress (the settings are not wired yet) is reported as such and measured
# for nginx only; docs/benchmarks.md is then left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
LEVEL=${LEVEL:-1}
BASE=${BENCH_PORT_BASE:-28180}
BACKEND_PORT=$((BASE + 1)) NGINX_PORT=$((BASE + 2)) DOCKSIDE_PORT=$((BASE + 3))
. scripts/bench-lib.sh
require_free_ports $BACKEND_PORT $NGINX_PORT $DOCKSIDE_PORT
HOST=bench.local
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; [ -n "${KEEP:-}" ] || rm -rf "$WORK"; }
trap cleanup EXIT
require_tools nginx:nginx wrk:wrk curl:curl gzip:gzip

# DOCKSIDE_BIN: a dockside binary already built (skips the release build here).
BIN=${DOCKSIDE_BIN:-${CARGO_TARGET_DIR:-target}/release/dockside}
[ -n "${DOCKSIDE_BIN:-}" ] || cargo build --release --quiet --bin dockside

# The body: an array of records of fixed pseudo-random content, just over 100 KiB, so both
# proxies compress the same bytes in every run.
# nginx workers run unprivileged: they must reach the file through the 0700 temp dir.
mkdir -p "$WORK/www" && chmod 755 "$WORK" "$WORK/www"
awk 'BEGIN {
  srand(14); printf "["
  for (i = 1; n < 102400; i++) {
    s = sprintf("%s{\"id\":%d,\"name\":\"user-%06d\",\"email\":\"u%d@example.com\",\"score\":%.4f,\"active\":%s,\"tags\":[\"t%d\",\"t%d\"]}",
      (i > 1 ? "," : ""), i, int(rand() * 1e6), i, rand() * 100, (rand() < 0.5 ? "true" : "false"), int(rand() * 50), int(rand() * 50))
    printf "%s", s; n += length(s)
  }
  printf "]"
}' > "$WORK/www/data.json"
SIZE=$(stat -c %s "$WORK/www/data.json")
URL_PATH=/data.json

nginx_conf backend 1 "server { listen 127.0.0.1:$BACKEND_PORT; root $WORK/www; default_type application/json;
  types { application/json json; } }"
# nginx-proxy's request headers (bench-lib.sh), and nginx's gzip as a vhost.d `gzip on` gives it.
nginx_conf proxy auto "upstream be { server 127.0.0.1:$BACKEND_PORT; keepalive 128; keepalive_requests 1000000; }
  $NGINX_PROXY_HEADERS
  gzip on; gzip_comp_level $LEVEL; gzip_types application/json; gzip_vary on; gzip_proxied any;
  server { listen 127.0.0.1:$NGINX_PORT; location / { proxy_pass http://be; } }"

cat > "$WORK/routes.toml" <<TOML
[[site]]
VIRTUAL_HOST = "$HOST"
backends = ["127.0.0.1:$BACKEND_PORT"]
COMPRESSION = "gzip"
COMPRESSION_LEVEL = "$LEVEL"
TOML
DISABLE_ACCESS_LOGS=true HTTPS_PORT=off DOCKSIDE_ADMIN=off DOCKER_HOST=off \
  "$BIN" --http "127.0.0.1:$DOCKSIDE_PORT" --routes "$WORK/routes.toml" 2>"$WORK/dockside.log" &
DOCKSIDE_PID=$!
PIDS+=($DOCKSIDE_PID)

wait_ok() { # url
  for _ in $(seq 1 100); do
    curl -sf -o /dev/null -H "Host: $HOST" "$1" && return 0
    sleep 0.05
  done
  return 1
}


# probe NAME PORT: one gzip request; prints the response's bytes if it came back gzip-encoded,
# nothing if it came back plain (and says so on stderr), `bad` if it does not decode to the
# backend's file.
probe() {
  local bytes
  bytes=$(curl -s -H "Host: $HOST" -H 'Accept-Encoding: gzip' -D "$WORK/$1.h" -o "$WORK/$1.gz" \
    -w '%{size_download}' "http://127.0.0.1:$2$URL_PATH")
  if ! grep -qi '^content-encoding: *gzip' "$WORK/$1.h"; then
    echo "$1 did NOT compress (no Content-Encoding: gzip; $bytes bytes). Its headers:" >&2
    sed 's/^/  /' "$WORK/$1.h" >&2
  elif ! gzip -dc < "$WORK/$1.gz" | cmp -s - "$WORK/www/data.json"; then
    echo "$1 sent gzip that does not decode to the backend's body" >&2
    echo bad
  else
    echo "$bytes"
  fi
}

run_wrk() { # key port pids... -> appends "rps cpu_us_per_req" to $WORK/$key
  local key=$1 port=$2; shift 2
  local c0 c1 out rps cpu
  c0=$(cpu_ticks "$@")
  out=$(wrk -t2 -c64 -d"$DURATION" -H "Host: $HOST" -H 'Accept-Encoding: gzip' "http://127.0.0.1:$port$URL_PATH")
  c1=$(cpu_ticks "$@")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  cpu=$(awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v r="$rps" -v d="${DURATION%s}" \
    'BEGIN { printf "%.1f", t / hz * 1e6 / (r * d) }')
  echo "$rps $cpu" >> "$WORK/$key"
  echo "$key: $rps req/s, $cpu CPU-us/req" >&2
}

row() { # label key bytes: the median-throughput run
  local median
  median=$(sort -n -k1,1 "$WORK/$2" | awk -v n="$(wc -l < "$WORK/$2")" 'NR == int((n + 1) / 2)')
  read -r rps cpu <<<"$median"
  printf '| %s | %s | %s | %s | %s |\n' "$1" "$rps" "$cpu" "$3" "$(awk '{print $1}' "$WORK/$2" | paste -sd' ')" >> "$WORK/table"
}

wait_ok "http://127.0.0.1:$BACKEND_PORT$URL_PATH" || { echo "backend nginx did not start" >&2; cat "$WORK/backend/stderr" >&2; tail -3 "$WORK/backend/error.log" >&2; exit 1; }
wait_ok "http://127.0.0.1:$NGINX_PORT$URL_PATH" || { echo "proxy nginx did not start" >&2; cat "$WORK/proxy/stderr" >&2; exit 1; }
wait_ok "http://127.0.0.1:$DOCKSIDE_PORT$URL_PATH" || { echo "dockside did not start" >&2; cat "$WORK/dockside.log" >&2; exit 1; }

NGINX_BYTES=$(probe nginx "$NGINX_PORT")
case $NGINX_BYTES in ''|bad) echo "nginx must compress correctly here" >&2; exit 1 ;; esac
DOCKSIDE_BYTES=$(probe dockside "$DOCKSIDE_PORT")
[ "$DOCKSIDE_BYTES" != bad ] || exit 1
[ -n "$DOCKSIDE_BYTES" ] || echo "dockside figures skipped: this build does not compress from the routes file yet" >&2

pids_of() { local m; m=$(cat "$WORK/$1/nginx.pid"); echo "$m" $(pgrep -P "$m"); }
NGINX_PIDS=$(pids_of proxy)
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round/$ROUNDS" >&2
  run_wrk nginx "$NGINX_PORT" $NGINX_PIDS
  [ -z "$DOCKSIDE_BYTES" ] || run_wrk dockside "$DOCKSIDE_PORT" "$DOCKSIDE_PID"
done

echo '| proxy (gzip level '"$LEVEL"') | req/s (median run) | CPU µs/req (proxy) | response bytes | req/s of every run |' > "$WORK/table"
echo '|---|---|---|---|---|' >> "$WORK/table"
row "nginx \`gzip on\`" nginx "$NGINX_BYTES"
if [ -n "$DOCKSIDE_BYTES" ]; then row "dockside \`COMPRESSION=gzip\`" dockside "$DOCKSIDE_BYTES"; fi

{
  echo "## Compression (gzip)"
  echo
  echo "Measured $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores (client, proxies and backend share them)."
  echo "Command: \`scripts/bench-gzip.sh\` (LEVEL=$LEVEL) — \`wrk -t2 -c64 -d$DURATION -H 'Accept-Encoding: gzip'\` per proxy, $ROUNDS rounds in turns,"
  echo "a $SIZE-byte JSON file from one static nginx backend; nginx with \`gzip on; gzip_comp_level $LEVEL; gzip_types application/json\`,"
  echo "upstream keepalive and nginx-proxy's request headers; dockside with \`COMPRESSION = \"gzip\"\`, \`COMPRESSION_LEVEL = \"$LEVEL\"\`."
  echo "CPU is the proxy's alone (not the backend's); response bytes are one compressed response's body."
  echo
  cat "$WORK/table"
} > "$WORK/section.md"
cat "$WORK/section.md"

[ -n "$DOCKSIDE_BYTES" ] || { echo "(nginx only: docs/benchmarks.md not updated)" >&2; exit 0; }
DOC=docs/benchmarks.md
if [ -f "$DOC" ] && grep -q '^## Compression (gzip)' "$DOC"; then
  awk -v sec="$WORK/section.md" '
    /^## Compression \(gzip\)/ { while ((getline l < sec) > 0) print l; skip=1; next }
    /^## / && skip { skip=0 }
    !skip' "$DOC" > "$WORK/doc" && mv "$WORK/doc" "$DOC"
else
  { [ -f "$DOC" ] && cat "$DOC" || printf '# Benchmarks\n\n'; printf '\n'; cat "$WORK/section.md"; } > "$WORK/doc" && mv "$WORK/doc" "$DOC"
fi
