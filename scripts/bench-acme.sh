#!/usr/bin/env bash
# ACME latency benchmark: from `docker start` of a container with VIRTUAL_HOST + LETSENCRYPT_HOST
# to the first HTTPS 200 through dockside whose chain verifies against Pebble's root
# (`curl --cacert <pebble /roots/0>`), p50/p95 over RUNS containers (default 10).
#
# Real components only: the release dockside binary on loopback ports, Debian's pebble +
# pebble-challtestsrv (PEBBLE_VA_NOSLEEP=1, PEBBLE_WFE_NONCEREJECT=0, PEBBLE_AUTHZREUSE=0)
# validating HTTP-01 against dockside's own HTTP listener, the real Docker engine, and the
# busybox test image (scripts/build-test-image.sh). dockside only sees this run's containers
# (DOCKER_CONTAINER_FILTERS=label=...). One untimed warm-up container registers the ACME account.
#
# Where the time goes is read from dockside's own log (RFC 3339 timestamps):
#   start→order  = `docker start` issued → "ordering certificate" (CLI + engine + discovery)
#   order        = the order itself (`elapsed_ms` of "certificate written": account lookup,
#                  new-order, 3 validations by Pebble, finalize, download, files + fsyncs)
#   written→200  = certificate on disk → first verified HTTPS 200 seen by the polling client
#                  (curl is re-run every ~10 ms, so this includes the poll granularity)
#
# CHALLENGE=dns-01: the same, with DNS-01 through a real knotd (Debian `knot`) on loopback holding
# the zone `test` with a TSIG key (ACMESH_DNS_API_CONFIG, dns_nsupdate, zone found by SOA), Pebble's
# validator asking that knotd (`-dnsserver`), and each container asking for `*.<host>,<host>`
# (a wildcard + apex certificate): the order also covers two RFC 2136 UPDATEs, the
# propagation check and the two removals.
# Usage: [CHALLENGE=dns-01] scripts/bench-acme.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
challenge=${CHALLENGE:-http-01}
for bin in /usr/bin/pebble /usr/bin/pebble-challtestsrv; do
  [[ -x $bin ]] || { echo "$bin missing: apt-get install pebble" >&2; exit 1; }
done
command -v curl >/dev/null || { echo "curl missing: apt-get install curl" >&2; exit 1; }
command -v openssl >/dev/null || { echo "openssl missing: apt-get install openssl" >&2; exit 1; }
scripts/build-test-image.sh
cargo build -q --release --bin dockside
DOCKSIDE=${CARGO_TARGET_DIR:-target}/release/dockside

work=$(mktemp -d)
scope="dockside-bench-$$"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ids=$(docker ps -aq --filter "label=dockside-bench-scope=$scope" || true)
  [[ -n $ids ]] && docker rm -f $ids >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HP=$(free_port); SP=$(free_port); PP=$(free_port); MP=$(free_port); DP=$(free_port); DM=$(free_port)
resolver="127.0.0.1:$DP"
dns_env=()
if [[ $challenge == dns-01 ]]; then
  [[ -x /usr/sbin/knotd ]] || { echo "knotd missing: apt-get install knot" >&2; exit 1; }
  KP=$(free_port)
  secret=$(head -c 32 /dev/urandom | base64)
  mkdir -p "$work/knot/db"
  printf '$ORIGIN test.\n$TTL 60\n@ SOA ns.test. admin.test. 1 3600 600 86400 60\n@ NS ns.test.\nns A 127.0.0.1\n' \
    >"$work/knot/test.zone"
  cat >"$work/knot/knot.conf" <<KNOT
server:
  rundir: "$work/knot"
  listen: 127.0.0.1@$KP
database:
  storage: "$work/knot/db"
control:
  listen: "$work/knot/knot.sock"
key:
  - id: acme-key
    algorithm: hmac-sha256
    secret: $secret
acl:
  - id: acme_update
    key: acme-key
    action: update
template:
  - id: default
    storage: "$work/knot"
    zonefile-sync: -1
zone:
  - domain: test
    file: test.zone
    acl: acme_update
KNOT
  /usr/sbin/knotd -c "$work/knot/knot.conf" >"$work/knot.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do
    (echo >"/dev/tcp/127.0.0.1/$KP") 2>/dev/null && break
    sleep 0.05
  done
  resolver="127.0.0.1:$KP"
  dns_env=(ACME_CHALLENGE=DNS-01 "ACMESH_DNS_API_CONFIG={\"DNS_API\":\"dns_nsupdate\",\"NSUPDATE_SERVER\":\"127.0.0.1\",\"NSUPDATE_SERVER_PORT\":$KP,\"NSUPDATE_KEY_NAME\":\"acme-key\",\"NSUPDATE_KEY_SECRET\":\"$secret\"}")
fi

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
  pebble -config "$work/pebble.json" -dnsserver "$resolver" >"$work/pebble.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do
  curl -sf --cacert "$work/ca.pem" "https://127.0.0.1:$PP/dir" >/dev/null && break
  sleep 0.05
done
curl -sf --cacert "$work/ca.pem" "https://127.0.0.1:$MP/roots/0" >"$work/root.pem"

mkdir -p "$work/certs"
env "${dns_env[@]}" ACME_CA_URI="https://127.0.0.1:$PP/dir" CA_BUNDLE="$work/ca.pem" DEFAULT_EMAIL=bench@example.test \
  DOCKER_CONTAINER_FILTERS="label=dockside-bench-scope=$scope" DISABLE_ACCESS_LOGS=true \
  TRUST_DOWNSTREAM_PROXY=false \
  "$DOCKSIDE" --http "127.0.0.1:$HP" --https "127.0.0.1:$SP" --admin off \
  --certs-dir "$work/certs" --docker-host unix:///var/run/docker.sock >"$work/dockside.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do
  curl -s -o /dev/null "http://127.0.0.1:$HP/" && break
  sleep 0.05
done

now_ns() { date +%s%N; }
# One container: created first, then timed from `docker start` to a verified HTTPS 200.
run_one() {
  local name=$1 host="$1.test" acme_hosts="$1.test"
  [[ $challenge == dns-01 ]] && acme_hosts="*.$host,$host"
  docker create --name "$name" --label "dockside-bench-scope=$scope" \
    -e "VIRTUAL_HOST=$host" -e "LETSENCRYPT_HOST=$acme_hosts" -e VIRTUAL_PORT=80 \
    dockside-test-backend:latest >/dev/null
  local t0 t1 deadline
  t0=$(now_ns)
  docker start "$name" >/dev/null
  deadline=$((t0 + 30000000000))
  until curl -sf -o /dev/null --max-time 2 --cacert "$work/root.pem" \
    --resolve "$host:$SP:127.0.0.1" "https://$host:$SP/"; do
    (($(now_ns) < deadline)) || { echo "$host: no verified HTTPS 200 in 30 s" >&2; tail -20 "$work/dockside.log" >&2; exit 1; }
    sleep 0.01
  done
  t1=$(now_ns)
  echo "$host $t0 $t1"
}

run_one "bench-$$-warmup" >/dev/null
: >"$work/times"
for i in $(seq "$runs"); do
  run_one "bench-$$-$i" >>"$work/times"
done

echo "load: $(uptime)"
python3 - "$work/times" "$work/dockside.log" <<'PY'
import datetime, re, statistics, sys
times = [l.split() for l in open(sys.argv[1])]
log = open(sys.argv[2]).read().splitlines()
ansi = re.compile(r"\x1b\[[0-9;]*m")
def ts(line):
    return datetime.datetime.fromisoformat(line.split()[0].replace("Z", "+00:00")).timestamp()
ordering, written, elapsed = {}, {}, {}
for raw in log:
    line = ansi.sub("", raw)
    m = re.search(r"base=(\S+)", line)
    if not m:
        continue
    base = m.group(1).removeprefix("wildcard_")
    if "ordering certificate" in line:
        ordering.setdefault(base, ts(line))
    if "certificate written" in line and "elapsed_ms" in line:
        written.setdefault(base, ts(line))
        elapsed.setdefault(base, int(re.search(r"elapsed_ms=(\d+)", line).group(1)))
rows = []
print(f"{'host':<34} {'total ms':>9} {'start→order':>12} {'order':>7} {'written→200':>12}")
for host, t0, t1 in times:
    t0, t1 = int(t0) / 1e9, int(t1) / 1e9
    total = (t1 - t0) * 1000
    so = (ordering[host] - t0) * 1000 if host in ordering else float("nan")
    w2 = (t1 - written[host]) * 1000 if host in written else float("nan")
    rows.append((total, so, elapsed.get(host, float("nan")), w2))
    print(f"{host:<34} {total:9.0f} {so:12.0f} {elapsed.get(host, float('nan')):7.0f} {w2:12.0f}")
def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]
for i, name in enumerate(["total", "start→order", "order", "written→200"]):
    xs = [r[i] for r in rows]
    print(f"{name:<12} p50 {pct(xs, 50):6.0f} ms   p95 {pct(xs, 95):6.0f} ms   max {max(xs):6.0f} ms")
PY
