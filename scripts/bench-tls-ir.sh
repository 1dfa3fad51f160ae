#!/usr/bin/env bash
# Handshake cost in instructions (not a test): dockside under callgrind, $N full TLS 1.3
# handshakes (X25519, ECDSA P-256, no resumption, no HTTP request) by `openssl s_client`, and the
# instructions the server executed per handshake. Unlike handshakes per second
# (scripts/bench-tls.sh), the count does not depend on what else the machine runs, so two builds
# can be compared on a busy machine:
#   DOCKSIDE_BIN=a/dockside scripts/bench-tls-ir.sh; DOCKSIDE_BIN=b/dockside scripts/bench-tls-ir.sh
# It counts instructions, not cycles: a difference in cache or branch behaviour does not show.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-200} HTTP_PORT=${HTTP_PORT:-18291} TLS_PORT=${TLS_PORT:-18292}
HOST=bench.local
WORK=$(mktemp -d)
PID=
cleanup() { [ -z "$PID" ] || { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; } || true; rm -rf "$WORK"; }
trap cleanup EXIT

. scripts/bench-lib.sh
require_tools valgrind:valgrind openssl:openssl curl:curl
require_free_ports "$HTTP_PORT" "$TLS_PORT"
test_cert "$HOST"
cat > "$WORK/routes.toml" <<TOML
[[site]]
VIRTUAL_HOST = "$HOST"
backends = ["127.0.0.1:9"]
TOML
DOCKSIDE_BIN=${DOCKSIDE_BIN:-target/release/dockside}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet --bin dockside

# Instrumentation off until the server is up, so start-up does not count.
DEFAULT_HOST=$HOST DISABLE_ACCESS_LOGS=true DOCKSIDE_ADMIN=${DOCKSIDE_ADMIN:-off} DOCKER_HOST=off \
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/cg.out" \
  "$DOCKSIDE_BIN" --http "127.0.0.1:$HTTP_PORT" --https "127.0.0.1:$TLS_PORT" \
  --certs-dir "$WORK/certs" --routes "$WORK/routes.toml" 2>"$WORK/dockside.log" &
PID=$!
handshake() {
  openssl s_client -connect "127.0.0.1:$TLS_PORT" -tls1_3 -groups X25519 -no_ticket \
    -CAfile "$WORK/ca.pem" -verify_return_error </dev/null >/dev/null 2>&1
}
for _ in $(seq 1 300); do handshake && break; sleep 0.2; done
handshake || { echo "dockside did not serve TLS on $TLS_PORT" >&2; cat "$WORK/dockside.log" >&2; exit 1; }
callgrind_control -i on "$PID" >/dev/null
for _ in $(seq 1 "$N"); do handshake || { echo "a handshake failed" >&2; exit 1; }; done
total=$(callgrind_count "$PID")
echo "$DOCKSIDE_BIN: $N handshakes, $total instructions, $((total / N)) per handshake"
