#!/usr/bin/env bash
# Request cost in instructions (not a test): dockside under callgrind proxies $N plain-HTTP GETs,
# sent by curl over one kept-alive connection, to an nginx backend answering `hello`; prints the
# instructions dockside executed per request. Like scripts/bench-tls-ir.sh this count does not
# depend on what else the machine runs, so two builds compare on a busy machine:
#   DOCKSIDE_BIN=a/dockside scripts/bench-request-ir.sh; DOCKSIDE_BIN=b/dockside scripts/bench-request-ir.sh
# SITE_EXTRA adds routes-file keys to the site (e.g. 'RESPONSE_HEADERS = "X-A: 1"').
# HTTP2=1 sends them as HTTP/2 (h2c, prior knowledge, h2load -c1 -m1) over one connection instead.
# SITES=N makes the routes file N sites (the requested one plus N-1 exact `s<i>.bench.local`);
# WILDCARDS=W and REGEXES=R add W leading wildcards `*.w<i>.x.test` and R regexes
# `~^r<i>\.re\.test$` (issue 19 part 3: the lookup cost of one host among many); GET_HOST is the
# host requested (default: the first site, bench.local, an exact name; e.g. a.w1.x.test).
# It counts instructions, not cycles: cache and branch behaviour do not show.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-1000} BACKEND_PORT=${BACKEND_PORT:-18293} HTTP_PORT=${HTTP_PORT:-18294}
HOST=bench.local GET_HOST=${GET_HOST:-bench.local}
WORK=$(mktemp -d)
PID= PIDS=()
cleanup() {
  [ -z "$PID" ] || { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; } || true
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

. scripts/bench-lib.sh
require_tools valgrind:valgrind nginx:nginx curl:curl h2load:nghttp2-client
require_free_ports "$BACKEND_PORT" "$HTTP_PORT"
nginx_conf backend 1 "server { listen 127.0.0.1:$BACKEND_PORT; location / { return 200 'hello'; } }"
cat > "$WORK/routes.toml" <<TOML
[[site]]
VIRTUAL_HOST = "$HOST"
backends = ["127.0.0.1:$BACKEND_PORT"]
${SITE_EXTRA:-}
TOML
# The other sites, generated in one awk pass (a shell loop takes seconds for 10,000).
awk -v sites="${SITES:-1}" -v wild="${WILDCARDS:-0}" -v re="${REGEXES:-0}" -v be="127.0.0.1:$BACKEND_PORT" '
  function site(host) { printf "[[site]]\nVIRTUAL_HOST = \"%s\"\nbackends = [\"%s\"]\n", host, be }
  BEGIN {
    for (i = 1; i < sites; i++) site("s" i ".bench.local")
    for (i = 1; i <= wild; i++) site("*.w" i ".x.test")
    for (i = 1; i <= re; i++) site("~^r" i "\\\\.re\\\\.test$")
  }' >> "$WORK/routes.toml"
DOCKSIDE_BIN=${DOCKSIDE_BIN:-target/release/dockside}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet --bin dockside

DISABLE_ACCESS_LOGS=true DOCKSIDE_ADMIN=${DOCKSIDE_ADMIN:-off} DOCKER_HOST=off \
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/cg.out" \
  "$DOCKSIDE_BIN" --http "127.0.0.1:$HTTP_PORT" --https off --certs-dir "$WORK/certs" \
  --routes "$WORK/routes.toml" 2>"$WORK/dockside.log" &
PID=$!
URL="http://$GET_HOST:$HTTP_PORT/"
get() { curl -sf -o /dev/null --resolve "$GET_HOST:$HTTP_PORT:127.0.0.1" "$URL"; }
for _ in $(seq 1 300); do get && break; sleep 0.2; done
get || { echo "dockside did not serve on $HTTP_PORT" >&2; cat "$WORK/dockside.log" >&2; exit 1; }
settle "$PID"
# One curl, $N URLs: one connection, kept alive, so the count is per request, not per connection.
for _ in $(seq 1 "$N"); do echo "url = \"$URL\""; echo "output = /dev/null"; done > "$WORK/curl.cfg"
callgrind_control -i on "$PID" >/dev/null
if [ -n "${HTTP2:-}" ]; then
  # h2load, one stream at a time (curl 7.88 breaks a reused prior-knowledge connection).
  out=$(h2load -n"$N" -c1 -m1 --connect-to="127.0.0.1:$HTTP_PORT" "$URL")
  grep -q "$N succeeded" <<<"$out" || { echo "h2load: not every request succeeded" >&2; echo "$out" >&2; exit 1; }
  echo 1 > "$WORK/connects"
else
  curl -sf --resolve "$GET_HOST:$HTTP_PORT:127.0.0.1" -K "$WORK/curl.cfg" \
    -w '%{num_connects}\n' > "$WORK/connects"
fi
total=$(callgrind_count "$PID")
connects=$(awk '{s += $1} END {print s}' "$WORK/connects")
echo "$DOCKSIDE_BIN: ${SITES:-1} site(s) + ${WILDCARDS:-0} wildcard(s) + ${REGEXES:-0} regex(es), host $GET_HOST: $N ${HTTP2:+HTTP/2 }requests on $connects connection(s), $total instructions, $((total / N)) per request"
