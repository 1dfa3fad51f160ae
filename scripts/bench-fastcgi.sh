#!/usr/bin/env bash
# FastCGI benchmark (not a test): the same PHP-FPM pool serving a small index.php behind nginx
# `fastcgi_pass` (Debian nginx, `include fastcgi.conf`, `root`, upstream `keepalive 2` +
# `fastcgi_keep_conn on` — nginx-proxy's `VIRTUAL_PROTO=fastcgi` location for one server) and
# behind dockside (release build, routes file, VIRTUAL_PROTO=fastcgi + VIRTUAL_ROOT), in turns:
# `wrk -t2 -c64 -d10s --latency`, req/s, p50, p99 and the proxy's CPU µs per request.
# Writes docs/bench/fastcgi.md.
#
#   scripts/bench-fastcgi.sh                 # ROUNDS=2 DURATION=10s CHILDREN=8
#   SKIP_BUILD=1 DOCKSIDE_BIN=path scripts/bench-fastcgi.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-2}
CHILDREN=${CHILDREN:-8}
BASE=${BENCH_PORT_BASE:-18300}
FPM_PORT=$BASE NGINX_PORT=$((BASE + 1)) DOCKSIDE_PORT=$((BASE + 2))
HOST=bench.local
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 0.3
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

FPM=$(ls /usr/sbin/php-fpm* 2>/dev/null | sort | tail -n1 || true)
[ -n "$FPM" ] || { echo "php-fpm is required: apt-get install -y php-fpm" >&2; exit 1; }
require_tools nginx:nginx wrk:wrk curl:curl
require_free_ports "$FPM_PORT" "$NGINX_PORT" "$DOCKSIDE_PORT"

DOCKSIDE_BIN=${DOCKSIDE_BIN:-${CARGO_TARGET_DIR:-target}/release/dockside}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet --bin dockside

# The pool and its script; readable by nginx's unprivileged workers only as a path (nginx never
# opens the script, php-fpm does).
mkdir -p "$WORK/www"
chmod 755 "$WORK"
echo '<?php echo "hello";' > "$WORK/www/index.php"
cat > "$WORK/php-fpm.conf" <<CONF
[global]
error_log = $WORK/php-fpm.log
daemonize = no
[bench]
listen = 127.0.0.1:$FPM_PORT
pm = static
pm.max_children = $CHILDREN
CONF
FPM_ROOT=()
[ "$(id -u)" != 0 ] || FPM_ROOT=(-R)
"$FPM" -F -n -y "$WORK/php-fpm.conf" "${FPM_ROOT[@]}" 2>"$WORK/php-fpm.stderr" &
PIDS+=($!)

# nginx-proxy's fastcgi location for one server: upstream keepalive 2 (its `auto` for one
# server), `fastcgi_keep_conn on`, `include fastcgi.conf`, `root $VIRTUAL_ROOT`.
nginx_conf proxy auto "upstream php { server 127.0.0.1:$FPM_PORT; keepalive 2; }
  server { listen 127.0.0.1:$NGINX_PORT; server_name $HOST;
    location / { root $WORK/www; index index.php; include /etc/nginx/fastcgi.conf;
      fastcgi_index index.php; fastcgi_pass php; fastcgi_keep_conn on; } }"
NGINX_PID=${PIDS[-1]}

cat > "$WORK/routes.toml" <<TOML
[[site]]
VIRTUAL_HOST = "$HOST"
VIRTUAL_PROTO = "fastcgi"
VIRTUAL_ROOT = "$WORK/www"
HTTPS_METHOD = "noredirect"
backends = ["127.0.0.1:$FPM_PORT"]
TOML
DOCKSIDE_CMD="$DOCKSIDE_BIN --http 127.0.0.1:$DOCKSIDE_PORT --https off --docker-host off --admin off --routes $WORK/routes.toml"
DISABLE_ACCESS_LOGS=true CERTS_DIR="$WORK/certs" $DOCKSIDE_CMD 2>"$WORK/dockside.log" &
DOCKSIDE_PID=$!
PIDS+=($DOCKSIDE_PID)

wait_ok() { # url
  for _ in $(seq 1 200); do
    [ "$(curl -s -H "Host: $HOST" "$1")" = hello ] && return 0
    sleep 0.05
  done
  return 1
}
wait_ok "http://127.0.0.1:$NGINX_PORT/index.php" ||
  { cat "$WORK/proxy/stderr" "$WORK/proxy/error.log" "$WORK/php-fpm.log" >&2; exit 1; }
wait_ok "http://127.0.0.1:$DOCKSIDE_PORT/index.php" || { cat "$WORK/dockside.log" >&2; exit 1; }

run_wrk() { # key url pids... -> appends "rps p50 p99 cpu_us_per_req" to $WORK/$key
  local key=$1 url=$2; shift 2
  local c0 c1 out rps p50 p99 cpu
  c0=$(cpu_ticks "$@")
  out=$(wrk -t2 -c64 -d"$DURATION" --latency -H "Host: $HOST" "$url")
  c1=$(cpu_ticks "$@")
  grep -q "Non-2xx\|Socket errors" <<<"$out" && echo "$key: $(grep 'Non-2xx\|Socket errors' <<<"$out")" >&2
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  cpu=$(awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v r="$rps" -v d="${DURATION%s}" \
    'BEGIN { printf "%.1f", t / hz * 1e6 / (r * d) }')
  echo "$rps $p50 $p99 $cpu" >> "$WORK/$key"
  echo "$key: $rps req/s, p50 $p50, p99 $p99, $cpu CPU-us/req" >&2
}

row() { # label key: the median-throughput run, plus every run's req/s
  local all median rps p50 p99 cpu
  all=$(awk '{print $1}' "$WORK/$2" | paste -sd' ')
  median=$(sort -n -k1,1 "$WORK/$2" | awk -v n="$(wc -l < "$WORK/$2")" 'NR == int((n + 1) / 2)')
  read -r rps p50 p99 cpu <<<"$median"
  printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$rps" "$p50" "$p99" "$cpu" "$all" >> "$WORK/table"
}

LOAD_BEFORE=$(uptime)
NGINX_PIDS=("$NGINX_PID" $(pgrep -P "$NGINX_PID" || true))
for _ in $(seq 1 "$ROUNDS"); do
  run_wrk nginx "http://127.0.0.1:$NGINX_PORT/index.php" "${NGINX_PIDS[@]}"
  run_wrk dockside "http://127.0.0.1:$DOCKSIDE_PORT/index.php" "$DOCKSIDE_PID"
done
LOAD_AFTER=$(uptime)
: > "$WORK/table"
row "nginx fastcgi_pass" nginx
row "dockside" dockside

mkdir -p docs/bench
{
  echo "## FastCGI: nginx \`fastcgi_pass\` vs dockside \`VIRTUAL_PROTO=fastcgi\`"
  echo
  echo "Measured by \`scripts/bench-fastcgi.sh\` on $(date -u +%Y-%m-%dT%H:%MZ) ($(nproc) cores shared by wrk, the"
  echo "proxy and PHP-FPM; compare the rows, not the absolute numbers). $("$FPM" -v | head -n1 | cut -d' ' -f1-2),"
  echo "\`pm = static\`, $CHILDREN children, no php.ini (\`-n\`), a one-line \`index.php\` echoing \"hello\". nginx"
  echo "$("$NGINX" -v 2>&1 | sed 's/.*\///'): \`worker_processes auto\`, upstream \`keepalive 2\`, \`fastcgi_keep_conn on\`,"
  echo "\`include fastcgi.conf\`, access log off. dockside: release build, \`$DOCKSIDE_CMD\`"
  echo "with \`DISABLE_ACCESS_LOGS=true\` (keep-alive pool: 2 idle connections per backend and worker)."
  echo "$ROUNDS rounds in turns; the row is the median-throughput run. CPU is the proxy's (nginx master +"
  echo "workers), not PHP's."
  echo
  echo "\`wrk -t2 -c64 -d$DURATION --latency -H 'Host: $HOST' http://127.0.0.1:PORT/index.php\`"
  echo
  echo "| proxy | req/s | p50 | p99 | proxy CPU µs/req | req/s of every run |"
  echo "|---|---|---|---|---|---|"
  cat "$WORK/table"
  echo
  echo "Load: before \`$LOAD_BEFORE\`; after \`$LOAD_AFTER\`."
} > docs/bench/fastcgi.md
cat docs/bench/fastcgi.md
