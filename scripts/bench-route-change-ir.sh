#!/usr/bin/env bash
# What one changed site costs the control plane, in instructions (not a test; issue 19 part 3):
# dockside under callgrind serves a routes file of $SITES sites; once it is idle, one site's
# backend is changed (the file replaced atomically, as an editor or a config tool does) and the
# instructions the whole process executes until it is idle again are counted — the file read
# and parsed, the desired state, the route table and the live snapshot rebuilt. Load-independent,
# so 1 and 10,000 sites compare on a busy machine:
#   SITES=1 scripts/bench-route-change-ir.sh; SITES=10000 scripts/bench-route-change-ir.sh
# CHANGES=N repeats the change N times (the figure is per change). Checks that the change was
# applied: the changed site then answers 502 (its new backend port has no listener).
set -euo pipefail
cd "$(dirname "$0")/.."

SITES=${SITES:-10000} CHANGES=${CHANGES:-3}
BACKEND_PORT=${BACKEND_PORT:-18295} HTTP_PORT=${HTTP_PORT:-18296} DEAD_PORT=${DEAD_PORT:-18297}
WORK=$(mktemp -d)
PID= PIDS=()
cleanup() {
  [ -z "$PID" ] || { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; } || true
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

. scripts/bench-lib.sh
require_tools valgrind:valgrind nginx:nginx curl:curl
require_free_ports "$BACKEND_PORT" "$HTTP_PORT" "$DEAD_PORT"
nginx_conf backend 1 "server { listen 127.0.0.1:$BACKEND_PORT; location / { return 200 'hello'; } }"
# Site 0 is the one changed: port $1 for its backend.
routes() {
  awk -v sites="$SITES" -v be="127.0.0.1:$BACKEND_PORT" -v first="127.0.0.1:$1" 'BEGIN {
    for (i = 0; i < sites; i++)
      printf "[[site]]\nVIRTUAL_HOST = \"s%d.bench.local\"\nbackends = [\"%s\"]\n", i, i ? be : first
  }' > "$WORK/routes.next" && mv "$WORK/routes.next" "$WORK/routes.toml"
}
routes "$BACKEND_PORT"
DOCKSIDE_BIN=${DOCKSIDE_BIN:-target/release/dockside}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet --bin dockside

DISABLE_ACCESS_LOGS=true DOCKSIDE_ADMIN=off DOCKER_HOST=off \
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/cg.out" \
  "$DOCKSIDE_BIN" --http "127.0.0.1:$HTTP_PORT" --https off --certs-dir "$WORK/certs" \
  --routes "$WORK/routes.toml" 2>"$WORK/dockside.log" &
PID=$!
status_of() { curl -s -o /dev/null -w '%{http_code}' --resolve "s0.bench.local:$HTTP_PORT:127.0.0.1" "http://s0.bench.local:$HTTP_PORT/"; }
for _ in $(seq 1 300); do [ "$(status_of)" = 200 ] && break; sleep 0.2; done
[ "$(status_of)" = 200 ] || { echo "dockside did not serve on $HTTP_PORT" >&2; cat "$WORK/dockside.log" >&2; exit 1; }
settle "$PID"
callgrind_control -i on "$PID" >/dev/null
for c in $(seq 1 "$CHANGES"); do
  # Alternately to the dead port and back, so every edit is a change.
  if [ $((c % 2)) = 1 ]; then routes "$DEAD_PORT"; else routes "$BACKEND_PORT"; fi
  sleep 0.5
  settle "$PID"
done
total=$(callgrind_count "$PID")
want=$([ $((CHANGES % 2)) = 1 ] && echo 502 || echo 200)
got=$(status_of)
[ "$got" = "$want" ] || { echo "the last change was not applied: s0 answers $got, expected $want" >&2; exit 1; }
echo "$DOCKSIDE_BIN: $SITES site(s), $CHANGES change(s) of one site, $total instructions, $((total / CHANGES)) per change"
