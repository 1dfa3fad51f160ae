# Shared by the benchmark scripts (sourced, not run): required tools, a throwaway certificate,
# and nginx instances. Callers set WORK (a temp dir) and PIDS (an array their EXIT trap kills).

NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# require_free_ports PORT...: fails, naming BENCH_PORT_BASE, when something listens on one.
require_free_ports() {
  local p
  for p in "$@"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "port $p is in use: set BENCH_PORT_BASE to another base port" >&2; exit 1
    fi
  done
}

# require_tools TOOL:PACKAGE...: fails with the apt-get line for the first one missing.
require_tools() {
  local tool
  for tool in "$@"; do
    command -v "${tool%%:*}" >/dev/null || [ -x "/usr/sbin/${tool%%:*}" ] ||
      { echo "${tool%%:*} is required: apt-get install -y ${tool##*:}" >&2; exit 1; }
  done
}

# test_cert HOST: a throwaway CA ($WORK/ca.pem) and an ECDSA P-256 leaf for HOST in
# $WORK/certs/HOST.{crt,key} (chain in the .crt), as dockside and nginx both read them.
test_cert() {
  mkdir -p "$WORK/certs"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=dockside test CA" \
    -keyout "$WORK/ca.key" -out "$WORK/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
    -keyout "$WORK/certs/$1.key" -out "$WORK/leaf.csr" 2>/dev/null
  printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n' "$1" > "$WORK/ext"
  openssl x509 -req -in "$WORK/leaf.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial -days 2 \
    -extfile "$WORK/ext" -out "$WORK/leaf.pem" 2>/dev/null
  cat "$WORK/leaf.pem" "$WORK/ca.pem" > "$WORK/certs/$1.crt"
}

# nginx_conf NAME WORKERS HTTP_BODY: starts an nginx (daemon off, access log off) with its own
# prefix $WORK/NAME and HTTP_BODY inside `http { }`.
nginx_conf() {
  mkdir -p "$WORK/$1"
  cat > "$WORK/$1/nginx.conf" <<CONF
worker_processes $2;
pid $WORK/$1/nginx.pid;
error_log $WORK/$1/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $WORK/$1; proxy_temp_path $WORK/$1; fastcgi_temp_path $WORK/$1;
  uwsgi_temp_path $WORK/$1; scgi_temp_path $WORK/$1;
  $3
}
CONF
  "$NGINX" -c "$WORK/$1/nginx.conf" -p "$WORK/$1" 2>"$WORK/$1/stderr" &
  PIDS+=($!)
}

# What nginx-proxy's template puts around every proxied location (reference §1.6.9, trusted
# downstream, upstream keep-alive on), so the nginx in a comparison does the same work per
# request as dockside: the same nine request headers toward the backend. Goes inside `http { }`.
NGINX_PROXY_HEADERS="
  map \$http_x_forwarded_proto \$proxy_x_forwarded_proto { default \$http_x_forwarded_proto; '' \$scheme; }
  map \$http_x_forwarded_host \$proxy_x_forwarded_host { default \$http_x_forwarded_host; '' \$host; }
  map \$http_x_forwarded_port \$proxy_x_forwarded_port { default \$http_x_forwarded_port; '' \$server_port; }
  map \$proxy_x_forwarded_proto \$proxy_x_forwarded_ssl { default off; https on; }
  map \$http_upgrade \$proxy_connection { default upgrade; '' ''; }
  map \$server_port \$host_port { default :\$server_port; 80 ''; 443 ''; }
  proxy_http_version 1.1;
  proxy_set_header Host \$host\$host_port;
  proxy_set_header Upgrade \$http_upgrade;
  proxy_set_header Connection \$proxy_connection;
  proxy_set_header X-Real-IP \$remote_addr;
  proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
  proxy_set_header X-Forwarded-Proto \$proxy_x_forwarded_proto;
  proxy_set_header X-Forwarded-Host \$proxy_x_forwarded_host;
  proxy_set_header X-Forwarded-Port \$proxy_x_forwarded_port;
  proxy_set_header X-Forwarded-Ssl \$proxy_x_forwarded_ssl;
  proxy_set_header X-Original-URI \$request_uri;
  proxy_set_header Proxy '';"

# cpu_ticks PID...: user+system clock ticks of all threads of the given processes.
cpu_ticks() {
  local t=0 p task
  for p in "$@"; do
    for task in /proc/"$p"/task/*; do
      read -r -a f < <(sed 's/.*) //' "$task/stat")
      t=$((t + f[11] + f[12]))
    done
  done
  echo "$t"
}

# settle PID...: waits (up to 120 s) until the processes have used no CPU for a second, so that
# start-up work (with 10,000 sites, the route table and snapshot rebuilt after the first one)
# does not land in what is measured next.
settle() {
  local before
  for _ in $(seq 1 120); do
    before=$(cpu_ticks "$@"); sleep 1
    [ "$(cpu_ticks "$@")" = "$before" ] && return 0
  done
  echo "pid(s) $* did not settle within 120 s" >&2
  return 1
}

# callgrind_count PID: ends the measured stretch of a server started under
# `valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=$WORK/cg.out` (after
# `callgrind_control -i on PID`), and prints the instructions it executed meanwhile. Copies the
# profile to $CG_OUT when set, for callgrind_annotate.
callgrind_count() {
  local f ir total=0
  callgrind_control -i off "$1" >/dev/null
  callgrind_control -d "$1" >/dev/null
  [ -z "${CG_OUT:-}" ] || cp "$WORK"/cg.out.1 "$CG_OUT"
  # `summary:` stays 0 when instrumentation is switched on late; callgrind_annotate adds the costs.
  for f in "$WORK"/cg.out*; do
    [ -s "$f" ] || continue
    ir=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    total=$((total + ${ir:-0}))
  done
  echo "$total"
}
