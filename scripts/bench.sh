#!/usr/bin/env bash
# Core proxy benchmark (not a test): wrk -t2 -c64 -d10s against one static backend, directly,
# through nginx (upstream keepalive, one worker per core) and through dockside, in one run.
# Writes the table to docs/benchmarks.md (section "Core proxy").
#
#   scripts/bench.sh            # dockside binary with a routes file (needs the routes provider)
#   scripts/bench.sh --example  # dockside's app::start via examples/bench_target (same data plane)
#   SKIP_BUILD=1 DOCKSIDE_BIN=path/to/dockside scripts/bench.sh   # a binary built elsewhere
#   BASELINE_BIN=path/to/older/dockside scripts/bench.sh
#                               # also measures an earlier build in the same rounds (before/after)
#   SITE_EXTRA='RATE_LIMIT = "…"' BASELINE_SITE_EXTRA='' WRK_HEADER='Authorization: Basic …'
#                               # routes-file lines added to dockside's (or the baseline's) site,
#                               # and one more request header: a site policy before/after
#   DOCKSIDE_ENV='DOCKSIDE_ADMIN=127.0.0.1:28090' BASELINE_ENV='DOCKSIDE_ADMIN=127.0.0.1:28091 DOCKSIDE_METRICS=off'
#                               # VAR=value words set for dockside's (or the baseline's) process:
#                               # one binary, a setting on vs off (BASELINE_BIN = DOCKSIDE_BIN)
#   SITES=10000 BASELINE_SITES=1 BASELINE_BIN=path/to/dockside
#                               # dockside's (or the baseline's) routes file holds that many sites
#                               # (the measured one plus exact `s<i>.bench.local`): a big table vs
#                               # a one-site table (issue 19 part 3); docs/benchmarks.md is then
#                               # left alone (its "Core proxy" section is the one-site comparison)
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=${1:-auto}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}   # targets are measured in turns, ROUNDS times; the median run is reported
BASE=${BENCH_PORT_BASE:-28080}   # four consecutive free ports above this one
BACKEND_PORT=$((BASE + 1)) NGINX_PORT=$((BASE + 2)) DOCKSIDE_PORT=$((BASE + 3)) BASELINE_PORT=$((BASE + 4))
BASELINE_BIN=${BASELINE_BIN:-}
. scripts/bench-lib.sh
require_free_ports $BACKEND_PORT $NGINX_PORT $DOCKSIDE_PORT $BASELINE_PORT
HOST=bench.local
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

install_missing() {
  local missing=()
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
  command -v wrk >/dev/null || missing+=(wrk)
  command -v curl >/dev/null || missing+=(curl)
  if [ ${#missing[@]} -gt 0 ]; then
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}"
  fi
}

wait_ok() { # url host
  for _ in $(seq 1 100); do
    curl -sf -o /dev/null -H "Host: $2" ${WRK_HEADER:+-H "$WRK_HEADER"} "$1" && return 0
    sleep 0.05
  done
  return 1
}


run_wrk() { # key url pids... -> appends "rps p50 p99 cpu_us_per_req" to $WORK/$key
  local key=$1 url=$2; shift 2
  local c0 c1 out rps p50 p99 cpu
  c0=$(cpu_ticks "$@")
  if [ -n "${WRK_HEADER:-}" ]; then
    out=$(wrk -t2 -c64 -d"$DURATION" --latency -H "Host: $HOST" -H "$WRK_HEADER" "$url")
  else
    out=$(wrk -t2 -c64 -d"$DURATION" --latency -H "Host: $HOST" "$url")
  fi
  c1=$(cpu_ticks "$@")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  cpu=$(awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v r="$rps" -v d="${DURATION%s}" \
    'BEGIN { printf "%.1f", t / hz * 1e6 / (r * d) }')
  echo "$rps $p50 $p99 $cpu" >> "$WORK/$key"
  echo "$key: $rps req/s, p50 $p50, p99 $p99, $cpu CPU-us/req" >&2
}

row() { # label key: the median-throughput run, plus every run's req/s
  local all median
  all=$(awk '{print $1}' "$WORK/$2" | paste -sd' ')
  median=$(sort -n -k1,1 "$WORK/$2" | awk -v n="$(wc -l < "$WORK/$2")" 'NR == int((n + 1) / 2)')
  read -r rps p50 p99 cpu <<<"$median"
  printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$rps" "$p50" "$p99" "$cpu" "$all" >> "$WORK/table"
}

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

install_missing
DOCKSIDE_BIN=${DOCKSIDE_BIN:-target/release/dockside}
# SKIP_BUILD=1 with DOCKSIDE_BIN: measure binaries built elsewhere (e.g. two revisions' worktrees).
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet --bin dockside --example bench_target

nginx_conf backend 1 "server { listen 127.0.0.1:$BACKEND_PORT; location / { return 200 'hello'; } }"
# nginx-proxy's request headers (bench-lib.sh), as dockside sends them.
nginx_conf proxy auto "upstream be { server 127.0.0.1:$BACKEND_PORT; keepalive 128; keepalive_requests 1000000; }
  $NGINX_PROXY_HEADERS
  server { listen 127.0.0.1:$NGINX_PORT; location / { proxy_pass http://be; } }"

routes_file() { # path extra-lines sites
  cat > "$1" <<TOML
[[site]]
VIRTUAL_HOST = "$HOST"
backends = ["127.0.0.1:$BACKEND_PORT"]
$2
TOML
  awk -v sites="$3" -v be="127.0.0.1:$BACKEND_PORT" 'BEGIN {
    for (i = 1; i < sites; i++) printf "[[site]]\nVIRTUAL_HOST = \"s%d.bench.local\"\nbackends = [\"%s\"]\n", i, be
  }' >> "$1"
}
start_binary() {
  routes_file "$WORK/routes.toml" "${SITE_EXTRA:-}" "${SITES:-1}"
  routes_file "$WORK/routes-baseline.toml" "${BASELINE_SITE_EXTRA:-}" "${BASELINE_SITES:-1}"
  DISABLE_ACCESS_LOGS=true HTTPS_PORT=off DOCKSIDE_ADMIN=off DOCKER_HOST=off \
    env ${DOCKSIDE_ENV:-} "$DOCKSIDE_BIN" --http "127.0.0.1:$DOCKSIDE_PORT" --routes "$WORK/routes.toml" 2>"$WORK/dockside.log" &
  DOCKSIDE_PID=$!
}
start_example() {
  target/release/examples/bench_target "127.0.0.1:$DOCKSIDE_PORT" "$HOST" "127.0.0.1:$BACKEND_PORT" 2>"$WORK/dockside.log" &
  DOCKSIDE_PID=$!
}

HOW="dockside binary, --routes file"
if [ "$MODE" = "--example" ]; then start_example; HOW="examples/bench_target (app::start)"; else start_binary; fi
PIDS+=($DOCKSIDE_PID)
wait_ok "http://127.0.0.1:$BACKEND_PORT/" "$HOST" || { echo "backend nginx did not start" >&2; cat "$WORK/backend/stderr" >&2; exit 1; }
wait_ok "http://127.0.0.1:$NGINX_PORT/" "$HOST" || { echo "proxy nginx did not start" >&2; cat "$WORK/proxy/stderr" >&2; exit 1; }
if ! wait_ok "http://127.0.0.1:$DOCKSIDE_PORT/" "$HOST"; then
  if [ "$MODE" = "auto" ]; then
    echo "dockside binary does not serve the routes file in this build; using examples/bench_target" >&2
    kill "$DOCKSIDE_PID" 2>/dev/null || true; sleep 0.2
    start_example; PIDS+=($DOCKSIDE_PID); HOW="examples/bench_target (app::start)"
    wait_ok "http://127.0.0.1:$DOCKSIDE_PORT/" "$HOST" || { cat "$WORK/dockside.log" >&2; exit 1; }
  else
    cat "$WORK/dockside.log" >&2; exit 1
  fi
fi
IDLE_RSS=$(rss_kib "$DOCKSIDE_PID")
if [ -n "$BASELINE_BIN" ]; then
  DISABLE_ACCESS_LOGS=true HTTPS_PORT=off DOCKSIDE_ADMIN=off DOCKER_HOST=off \
    env ${BASELINE_ENV:-} "$BASELINE_BIN" --http "127.0.0.1:$BASELINE_PORT" --routes "$WORK/routes-baseline.toml" 2>"$WORK/baseline.log" &
  BASELINE_PID=$!
  PIDS+=($BASELINE_PID)
  wait_ok "http://127.0.0.1:$BASELINE_PORT/" "$HOST" || { cat "$WORK/baseline.log" >&2; exit 1; }
  BASELINE_IDLE_RSS=$(rss_kib "$BASELINE_PID")
fi

if [ -n "${SITES:-}${BASELINE_SITES:-}" ]; then
  # Idle once the start-up rebuilds are over (a big table's peak is not what it keeps).
  settle "$DOCKSIDE_PID" ${BASELINE_PID:-}
  IDLE_RSS=$(rss_kib "$DOCKSIDE_PID")
  [ -z "$BASELINE_BIN" ] || BASELINE_IDLE_RSS=$(rss_kib "$BASELINE_PID")
fi
# nginx masters (daemon off) and their workers.
pids_of() { local m; m=$(cat "$WORK/$1/nginx.pid"); echo "$m" $(pgrep -P "$m"); }
BACKEND_PIDS=$(pids_of backend)
NGINX_PIDS=$(pids_of proxy)
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round/$ROUNDS" >&2
  run_wrk direct "http://127.0.0.1:$BACKEND_PORT/" $BACKEND_PIDS
  run_wrk nginx "http://127.0.0.1:$NGINX_PORT/" $NGINX_PIDS
  # With a baseline, the two builds swap places every round so neither always runs second.
  if [ -n "$BASELINE_BIN" ] && [ $((round % 2)) = 0 ]; then
    run_wrk baseline "http://127.0.0.1:$BASELINE_PORT/" "$BASELINE_PID"
    run_wrk dockside "http://127.0.0.1:$DOCKSIDE_PORT/" "$DOCKSIDE_PID"
  else
    run_wrk dockside "http://127.0.0.1:$DOCKSIDE_PORT/" "$DOCKSIDE_PID"
    [ -z "$BASELINE_BIN" ] || run_wrk baseline "http://127.0.0.1:$BASELINE_PORT/" "$BASELINE_PID"
  fi
done
echo '| target | req/s (median run) | p50 | p99 | CPU µs/req (proxy or backend) | req/s of every run |' > "$WORK/table"
echo '|---|---|---|---|---|---|' >> "$WORK/table"
row "direct (nginx static)" direct
row "nginx proxy_pass" nginx
row "dockside${SITES:+, sites: $SITES}" dockside
[ -z "$BASELINE_BIN" ] || row "dockside, earlier build (\`$BASELINE_BIN\`)${BASELINE_SITES:+, sites: $BASELINE_SITES}" baseline
AFTER_RSS=$(rss_kib "$DOCKSIDE_PID")
BASELINE_RSS=
[ -z "$BASELINE_BIN" ] || BASELINE_RSS=", baseline ${BASELINE_IDLE_RSS} KiB idle, $(rss_kib "$BASELINE_PID") KiB after"

{
  echo "## Core proxy"
  echo
  echo "Measured $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores (client, proxies and backend share them)."
  echo "Command: \`scripts/bench.sh ${1:-}\` — \`wrk -t2 -c64 -d$DURATION --latency\` per target, $ROUNDS rounds in turns, one static nginx backend"
  echo "(1 worker, \`return 200 'hello'\`), nginx proxy with upstream keepalive, nginx-proxy's request headers and \`worker_processes auto\`,"
  echo "dockside via $HOW; access logs off in both proxies. The machine is shared with other"
  echo "work, so single runs swing by ±20 %: compare proxies within a round and by CPU µs per request."
  echo
  cat "$WORK/table"
  echo
  echo "dockside RSS: ${IDLE_RSS} KiB idle, ${AFTER_RSS} KiB after the run${BASELINE_RSS}."
} > "$WORK/section.md"
cat "$WORK/section.md"
[ -z "${SITES:-}${BASELINE_SITES:-}" ] || exit 0

DOC=docs/benchmarks.md
if [ -f "$DOC" ] && grep -q '^## Core proxy' "$DOC"; then
  # Replace the section up to the next "## " heading.
  awk -v sec="$WORK/section.md" '
    /^## Core proxy/ { while ((getline l < sec) > 0) print l; skip=1; next }
    /^## / && skip { skip=0 }
    !skip' "$DOC" > "$WORK/doc" && mv "$WORK/doc" "$DOC"
else
  { [ -f "$DOC" ] && cat "$DOC" || printf '# Benchmarks\n\n'; cat "$WORK/section.md"; } > "$WORK/doc" && mv "$WORK/doc" "$DOC"
fi
