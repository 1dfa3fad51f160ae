#!/usr/bin/env bash
# testssl.sh (Debian `testssl.sh`, /usr/bin/testssl) against dockside with SSL_POLICY
# Mozilla-Intermediate and an ECDSA P-256 certificate from a throwaway CA. Not a cargo test: it
# takes minutes. Prints every "NOT ok" finding (and the full log path).
#
#   scripts/testssl.sh            # release build of dockside
set -euo pipefail
cd "$(dirname "$0")/.."

BACKEND_PORT=18181 HTTP_PORT=18182 HTTPS_PORT=18183
HOST=tls.test
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

. scripts/bench-lib.sh
require_tools testssl:testssl.sh nginx:nginx openssl:openssl curl:curl

# A CA and a P-256 leaf for $HOST.
test_cert "$HOST"

mkdir -p "$WORK/backend"
cat > "$WORK/backend/nginx.conf" <<CONF
worker_processes 1; pid $WORK/backend/nginx.pid; error_log $WORK/backend/error.log warn; daemon off;
events {}
http { access_log off; client_body_temp_path $WORK/backend; proxy_temp_path $WORK/backend;
  fastcgi_temp_path $WORK/backend; uwsgi_temp_path $WORK/backend; scgi_temp_path $WORK/backend;
  server { listen 127.0.0.1:$BACKEND_PORT; location / { return 200 'hello'; } } }
CONF
"$NGINX" -c "$WORK/backend/nginx.conf" -p "$WORK/backend" &
PIDS+=($!)

cat > "$WORK/routes.toml" <<TOML
[[site]]
VIRTUAL_HOST = "$HOST"
backends = ["127.0.0.1:$BACKEND_PORT"]
TOML
[ -x target/release/dockside ] || cargo build --release --quiet --bin dockside
SSL_POLICY=Mozilla-Intermediate DOCKSIDE_ADMIN=off DOCKER_HOST=off DISABLE_ACCESS_LOGS=true \
  target/release/dockside --http "127.0.0.1:$HTTP_PORT" --https "127.0.0.1:$HTTPS_PORT" \
  --certs-dir "$WORK/certs" --routes "$WORK/routes.toml" 2>"$WORK/dockside.log" &
PIDS+=($!)
for _ in $(seq 1 100); do
  curl -sf -o /dev/null --resolve "$HOST:$HTTPS_PORT:127.0.0.1" --cacert "$WORK/ca.pem" \
    "https://$HOST:$HTTPS_PORT/" && break
  sleep 0.1
done

LOG=${TESTSSL_LOG:-/tmp/dockside-testssl.log}
# --ip: the name resolves nowhere; --add-ca: trust the throwaway CA; batch warnings: no prompts.
testssl --quiet --color 0 --warnings batch --sneaky --ip 127.0.0.1 --add-ca "$WORK/ca.pem" \
  "https://$HOST:$HTTPS_PORT/" > "$LOG" 2>&1 || true
echo "testssl $(testssl --version 2>/dev/null | awk '/testssl +[0-9]/ {print $2; exit}'), log: $LOG"
echo "NOT ok findings:"
grep -n "NOT ok" "$LOG" || echo "(none)"
