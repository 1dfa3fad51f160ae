#!/usr/bin/env bash
# On-demand TLS latency benchmark: the first TLS handshake for a name no site serves, from the
# client's connect to the completed handshake (curl's `time_appconnect`), with the chain verified
# against Pebble's issuing root (`curl --cacert <pebble /roots/0>`), p50/p95 over RUNS new names
# (default 10). The handshake covers the ask call, the whole ACME order and the certificate
# becoming live.
#
# Real components only: the release dockside binary on loopback ports with ON_DEMAND_TLS=true,
# Debian's pebble + pebble-challtestsrv (PEBBLE_VA_NOSLEEP=1, PEBBLE_WFE_NONCEREJECT=0,
# PEBBLE_AUTHZREUSE=0) validating HTTP-01 against dockside's own HTTP listener, and a python3
# http.server as the ask URL (answers 200). No Docker: a routes file holds the DEFAULT_HOST
# site. One untimed warm-up name registers the ACME account.
#
# Also printed: `order` (the order alone, `elapsed_ms` of "on-demand certificate written" in
# dockside's log) and a second handshake for each name (served from the snapshot).
# Usage: scripts/bench-ondemand.sh [RUNS]     (DOCKSIDE=<binary> to skip the release build)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
for bin in /usr/bin/pebble /usr/bin/pebble-challtestsrv; do
  [[ -x $bin ]] || { echo "$bin missing: apt-get install pebble" >&2; exit 1; }
done
command -v curl >/dev/null || { echo "curl missing: apt-get install curl" >&2; exit 1; }
command -v openssl >/dev/null || { echo "openssl missing: apt-get install openssl" >&2; exit 1; }
if [[ -z ${DOCKSIDE:-} ]]; then
  cargo build -q --release --bin dockside
  DOCKSIDE=${CARGO_TARGET_DIR:-target}/release/dockside
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HP=$(free_port); SP=$(free_port); PP=$(free_port); MP=$(free_port); DP=$(free_port); DM=$(free_port)
AP=$(free_port)

# Pebble's listener certificate: a CA and a leaf for 127.0.0.1/localhost (the leaf is not the CA).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench-ca \
  -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
  -keyout "$work/key.pem" -out "$work/leaf.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n' >"$work/san.ext"
openssl x509 -req -in "$work/leaf.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
  -days 2 -extfile "$work/san.ext" -out "$work/cert.pem" 2>/dev/null
cat >"$work/pebble.json" <<JSON
{ "pebble": { "listenAddress": "127.0.0.1:$PP", "managementListenAddress": "127.0.0.1:$MP",
  "certificate": "$work/cert.pem", "privateKey": "$work/key.pem",
  "httpPort": $HP, "tlsPort": $SP, "ocspResponderURL": "", "externalAccountBindingRequired": false } }
JSON
pebble-challtestsrv -management "127.0.0.1:$DM" -dns01 "127.0.0.1:$DP" -http01 "" -https01 "" \
  -tlsalpn01 "" -defaultIPv4 127.0.0.1 -defaultIPv6 "" >"$work/challtestsrv.log" 2>&1 &
pids+=($!)
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 \
  pebble -config "$work/pebble.json" -dnsserver "127.0.0.1:$DP" >"$work/pebble.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do
  curl -sf --cacert "$work/ca.pem" "https://127.0.0.1:$PP/dir" >/dev/null && break
  sleep 0.05
done
curl -sf --cacert "$work/ca.pem" "https://127.0.0.1:$MP/roots/0" >"$work/root.pem"

# The ask URL: 200 for every name.
python3 - "$AP" >"$work/ask.log" 2>&1 <<'PY' &
import http.server, sys
class Ask(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Ask).serve_forever()
PY
pids+=($!)
for _ in $(seq 200); do
  curl -sf -o /dev/null "http://127.0.0.1:$AP/check?domain=up.test" && break
  sleep 0.05
done

# The DEFAULT_HOST site, backed by the ask server (any answer will do: the handshake is timed).
cat >"$work/routes.toml" <<TOML
[[site]]
VIRTUAL_HOST = "main.bench.test"
backends = ["127.0.0.1:$AP"]
TOML

mkdir -p "$work/certs"
ACME_CA_URI="https://127.0.0.1:$PP/dir" CA_BUNDLE="$work/ca.pem" DEFAULT_EMAIL=bench@example.test \
  ON_DEMAND_TLS=true ON_DEMAND_TLS_ASK="http://127.0.0.1:$AP/check" ON_DEMAND_TLS_RATE=600 \
  DEFAULT_HOST=main.bench.test DISABLE_ACCESS_LOGS=true TRUST_DOWNSTREAM_PROXY=false \
  "$DOCKSIDE" --http "127.0.0.1:$HP" --https "127.0.0.1:$SP" --admin off \
  --certs-dir "$work/certs" --docker-host off --routes "$work/routes.toml" >"$work/dockside.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do
  curl -s -o /dev/null "http://127.0.0.1:$HP/" && break
  sleep 0.05
done

# One name: the first handshake (timed by curl), then a second one.
run_one() {
  local host="$1.bench.test" first second
  first=$(curl -s -o /dev/null --max-time 60 --cacert "$work/root.pem" -w '%{time_appconnect}' \
    --resolve "$host:$SP:127.0.0.1" "https://$host:$SP/") ||
    { echo "$host: first handshake failed" >&2; tail -20 "$work/dockside.log" >&2; exit 1; }
  second=$(curl -s -o /dev/null --max-time 10 --cacert "$work/root.pem" -w '%{time_appconnect}' \
    --resolve "$host:$SP:127.0.0.1" "https://$host:$SP/")
  echo "$host $first $second"
}

run_one "warmup-$$" >/dev/null
: >"$work/times"
for i in $(seq "$runs"); do
  run_one "od-$$-$i" >>"$work/times"
done

echo "load: $(uptime)"
python3 - "$work/times" "$work/dockside.log" <<'PY'
import re, sys
times = [l.split() for l in open(sys.argv[1])]
ansi = re.compile(r"\x1b\[[0-9;]*m")
elapsed = {}
for raw in open(sys.argv[2]):
    line = ansi.sub("", raw)
    m = re.search(r"on-demand certificate written base=(\S+).*elapsed_ms=(\d+)", line)
    if m:
        elapsed[m.group(1)] = int(m.group(2))
rows = []
print(f"{'name':<30} {'first ms':>9} {'order ms':>9} {'second ms':>10}")
for host, first, second in times:
    row = (float(first) * 1000, float(elapsed.get(host, "nan")), float(second) * 1000)
    rows.append(row)
    print(f"{host:<30} {row[0]:9.0f} {row[1]:9.0f} {row[2]:10.1f}")
def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]
for i, name in enumerate(["first", "order", "second"]):
    xs = [r[i] for r in rows]
    print(f"{name:<7} p50 {pct(xs, 50):7.1f} ms   p95 {pct(xs, 95):7.1f} ms   max {max(xs):7.1f} ms")
PY
