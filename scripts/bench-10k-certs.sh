#!/usr/bin/env bash
# 10,000 certificates (not a test): dockside over a certificate directory of $N ECDSA P-256 pairs
# (one CA, nginx-proxy layout `<host>.crt/.key`) and a routes file of $N sites, next to dockside
# over ONE pair and one site, in the same run:
#   1. start time: process start → first verified handshake for the last host (median of $STARTS)
#   2. RSS (VmRSS) once started, and per certificate: (RSS with N − RSS with 1) / (N − 1)
#   3. CPU time while idle for $IDLE s (the periodic rescan of the directory)
#   4. publish: a new pair written for one host (key, then certificate, atomically) → the first
#      handshake serving it (benches/gencerts.rs `publish`; median of $PUBLISHES hosts)
#   5. full handshakes/s: $HS_PROCS × `openssl s_time -new -time $HS_TIME` (as scripts/bench-tls.sh;
#      no SNI: the site is DEFAULT_HOST), alternating one/many $HS_ROUNDS times
#   6. instructions per full handshake under callgrind (as scripts/bench-tls-ir.sh, $IR_N
#      handshakes with SNI) — independent of the machine's load, the figure to compare: the
#      whole process (background rescans included), and the connections alone (inclusive cost
#      of `Accepted::serve_https`: handshake, SNI lookup, certificate selection).
# Prints a Markdown table (for docs/benchmarks.md). Ports from BENCH_PORT_BASE (default 18400).
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-10000} STARTS=${STARTS:-3} IDLE=${IDLE:-60} PUBLISHES=${PUBLISHES:-5}
HS_TIME=${HS_TIME:-10} HS_PROCS=${HS_PROCS:-2} HS_ROUNDS=${HS_ROUNDS:-2} IR_N=${IR_N:-200}
BASE=${BENCH_PORT_BASE:-18400}
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

. scripts/bench-lib.sh
require_tools openssl:openssl valgrind:valgrind
require_free_ports $(seq "$BASE" $((BASE + 7)))

DOCKSIDE_BIN=${DOCKSIDE_BIN:-target/release/dockside}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet --bin dockside
cargo build --quiet --bench gencerts
GEN=$(ls -t "${CARGO_TARGET_DIR:-target}"/debug/deps/gencerts-* | grep -v '\.d$' | head -1)

t0=$(date +%s%N)
"$GEN" generate "$WORK/many" "$N"
GEN_S=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN{printf "%.1f", (b-a)/1e9}')
"$GEN" generate "$WORK/one" 1
MANY_HOST=h$((N / 2)).bench.local LAST_HOST=h$((N - 1)).bench.local ONE_HOST=h0.bench.local

# start SET HTTP_PORT TLS_PORT DEFAULT_HOST [WRAPPER...]: dockside over $WORK/SET in the
# background; PID in $PID.
start() {
  local set=$1 http=$2 tls=$3 host=$4
  shift 4
  DEFAULT_HOST=$host DISABLE_ACCESS_LOGS=true DOCKSIDE_ADMIN=off DOCKER_HOST=off \
    "$@" "$DOCKSIDE_BIN" --http "127.0.0.1:$http" --https "127.0.0.1:$tls" \
    --certs-dir "$WORK/$set/certs" --routes "$WORK/$set/routes.toml" 2>>"$WORK/$set.log" &
  PID=$!
  PIDS+=("$PID")
}
stop() { kill "$1"; wait "$1" 2>/dev/null || true; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_ms() { awk '{printf "%d\n", ($14 + $15) * 1000 / '"$(getconf CLK_TCK)"'}' "/proc/$1/stat"; }
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# start_time SET HOST → seconds from exec to the first verified handshake for HOST.
start_time() {
  local t0 t1
  t0=$(date +%s%N)
  start "$1" "$BASE" $((BASE + 1)) "$2"
  "$GEN" serves "$WORK/$1" "$2" $((BASE + 1))
  t1=$(date +%s%N)
  stop "$PID"
  awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f\n", (b-a)/1e9}'
}

echo "load before: $(uptime)" >&2
ONE_START=$(for _ in $(seq "$STARTS"); do start_time one "$ONE_HOST"; done | median)
MANY_START=$(for _ in $(seq "$STARTS"); do start_time many "$LAST_HOST"; done | median)

# Both running side by side from here on.
start one $((BASE + 2)) $((BASE + 3)) "$ONE_HOST"; ONE_PID=$PID
start many $((BASE + 4)) $((BASE + 5)) "$MANY_HOST"; MANY_PID=$PID
"$GEN" serves "$WORK/one" "$ONE_HOST" $((BASE + 3))
"$GEN" serves "$WORK/many" "$LAST_HOST" $((BASE + 5))
sleep 5 # the watcher's first rescan
ONE_RSS=$(rss "$ONE_PID") MANY_RSS=$(rss "$MANY_PID")
PER_CERT=$(awk -v a="$MANY_RSS" -v b="$ONE_RSS" -v n="$N" 'BEGIN{printf "%.1f", (a-b)/(n-1)}')

c1=$(cpu_ms "$ONE_PID") c2=$(cpu_ms "$MANY_PID")
sleep "$IDLE"
ONE_IDLE=$(($(cpu_ms "$ONE_PID") - c1)) MANY_IDLE=$(($(cpu_ms "$MANY_PID") - c2))

ONE_PUB=$("$GEN" publish "$WORK/one" "$ONE_HOST" $((BASE + 3)))
MANY_PUB=$(for i in $(seq 1 "$PUBLISHES"); do
  "$GEN" publish "$WORK/many" "h$((i * N / (PUBLISHES + 1))).bench.local" $((BASE + 5))
  sleep 1
done | median)

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
ONE_HS=() MANY_HS=()
for _ in $(seq "$HS_ROUNDS"); do
  ONE_HS+=("$(hs_run $((BASE + 3)))")
  MANY_HS+=("$(hs_run $((BASE + 5)))")
done
ONE_HS_SUM=$(printf '%s\n' "${ONE_HS[@]}" | awk '{s+=$1} END {print s}')
MANY_HS_SUM=$(printf '%s\n' "${MANY_HS[@]}" | awk '{s+=$1} END {print s}')
stop "$ONE_PID"; stop "$MANY_PID"

# ir SET HOST → instructions per full handshake with SNI HOST (instrumentation off during start).
ir() {
  local set=$1 host=$2 total
  rm -f "$WORK"/cg.out*
  start "$set" $((BASE + 6)) $((BASE + 7)) "$host" \
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/cg.out"
  "$GEN" serves "$WORK/$set" "$host" $((BASE + 7))
  callgrind_control -i on "$PID" >/dev/null
  for _ in $(seq 1 "$IR_N"); do
    openssl s_client -connect "127.0.0.1:$((BASE + 7))" -servername "$host" -tls1_3 -groups X25519 \
      -no_ticket -CAfile "$WORK/$set/ca.pem" -verify_return_error </dev/null >/dev/null 2>&1 ||
      { echo "a handshake for $host failed" >&2; exit 1; }
  done
  total=$(callgrind_count "$PID")
  stop "$PID"
  local f conn=0 ir
  for f in "$WORK"/cg.out*; do
    [ -s "$f" ] || continue
    ir=$(callgrind_annotate --inclusive=yes "$f" 2>/dev/null |
      awk '/Accepted::serve_https::\{\{closure\}\}/ {gsub(",", "", $1); if ($1 > m) m = $1} END {print m + 0}')
    conn=$((conn + ir))
  done
  echo "$((total / IR_N)) $((conn / IR_N))"
}
read -r ONE_IR ONE_CONN <<<"$(ir one "$ONE_HOST")"
read -r MANY_IR MANY_CONN <<<"$(ir many "$MANY_HOST")"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", a/b}'; }
cat <<MD
Measured $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores shared with other work; \`uptime\` after the run:
$(uptime | sed 's/.*load average/load average/'). Command: \`scripts/bench-10k-certs.sh\` (N=$N; $DOCKSIDE_BIN;
generating the $N pairs took $GEN_S s).

| measurement | 1 certificate, 1 site | $N certificates, $N sites | many / one |
|---|---|---|---|
| start → first verified handshake (median of $STARTS) | $ONE_START s | $MANY_START s | |
| RSS once started | $ONE_RSS KiB | $MANY_RSS KiB | $PER_CERT KiB per extra certificate + site |
| CPU while idle for $IDLE s | $ONE_IDLE ms | $MANY_IDLE ms | |
| one changed pair → served (median of $PUBLISHES) | $ONE_PUB ms | $MANY_PUB ms | |
| full handshakes/s, ${HS_PROCS}× \`openssl s_time -new -time $HS_TIME\`, rounds | ${ONE_HS[*]} | ${MANY_HS[*]} | $(ratio "$MANY_HS_SUM" "$ONE_HS_SUM") |
| instructions per full handshake, whole process (callgrind, $IR_N with SNI) | $ONE_IR | $MANY_IR | $(ratio "$MANY_IR" "$ONE_IR") |
| instructions per full handshake, the connection alone (\`serve_https\` inclusive) | $ONE_CONN | $MANY_CONN | $(ratio "$MANY_CONN" "$ONE_CONN") |
MD
