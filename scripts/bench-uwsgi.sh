#!/usr/bin/env bash
# uwsgi benchmark (not a test): the same uWSGI app (2 processes, --buffer-size 32768) behind
# nginx `uwsgi_pass` (Debian nginx, `include uwsgi_params`, one worker per core) and behind
# dockside (release build, routes file, VIRTUAL_PROTO=uwsgi), in one run:
#   - wrk -t2 -c64 -d10s --latency on a tiny "hello" route: req/s, p50, p99;
#   - a 100 MiB POST with Content-Length (curl --data-binary @file): wall time, and the peak
#     RSS (VmHWM) of each proxy's processes.
# Writes docs/bench/uwsgi.md.
#
#   scripts/bench-uwsgi.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
UWSGI_PORT=19009 NGINX_PORT=18092 DOCKSIDE_PORT=18093
HOST=bench.local
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  sleep 0.3
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

need() { # binary package
  command -v "$1" >/dev/null || [ -x "/usr/sbin/$1" ] || {
    echo "missing $1: apt-get install $2" >&2
    exit 1
  }
}
need nginx nginx
need wrk wrk
need curl curl
need uwsgi "uwsgi uwsgi-plugin-python3"
[ -f /usr/lib/uwsgi/plugins/python3_plugin.so ] || { echo "apt-get install uwsgi-plugin-python3" >&2; exit 1; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

cargo build --release --quiet --bin dockside

# The app: "hello" for wrk, /upload reads (and counts) the body.
cat > "$WORK/app.py" <<'PY'
def application(environ, start_response):
    if environ.get("PATH_INFO") == "/upload":
        stream, n = environ["wsgi.input"], 0
        while True:
            chunk = stream.read(1 << 20)
            if not chunk:
                break
            n += len(chunk)
        body = str(n).encode()
    else:
        body = b"hello"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
PY
uwsgi --plugin python3 --master --processes 2 --socket "127.0.0.1:$UWSGI_PORT" \
  --wsgi-file "$WORK/app.py" --disable-logging --buffer-size 32768 --need-app \
  2>"$WORK/uwsgi.log" &
PIDS+=($!)

mkdir -p "$WORK/nginx"
# nginx workers run as an unprivileged user: they must be able to spool the upload here.
chmod 755 "$WORK" && chmod 777 "$WORK/nginx"
cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_max_body_size 0;
  client_body_temp_path $WORK/nginx; proxy_temp_path $WORK/nginx; fastcgi_temp_path $WORK/nginx;
  uwsgi_temp_path $WORK/nginx; scgi_temp_path $WORK/nginx;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    server_name $HOST;
    location / { include /etc/nginx/uwsgi_params; uwsgi_pass 127.0.0.1:$UWSGI_PORT; }
  }
}
CONF
"$NGINX" -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" 2>"$WORK/nginx/stderr" &
NGINX_PID=$!
PIDS+=($NGINX_PID)

cat > "$WORK/routes.toml" <<TOML
[[site]]
VIRTUAL_HOST = "$HOST"
VIRTUAL_PROTO = "uwsgi"
HTTPS_METHOD = "noredirect"
backends = ["127.0.0.1:$UWSGI_PORT"]
TOML
DOCKSIDE_CMD="target/release/dockside --http 127.0.0.1:$DOCKSIDE_PORT --https off --docker-host off --admin off --routes $WORK/routes.toml"
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
wait_ok "http://127.0.0.1:$NGINX_PORT/" || { cat "$WORK/nginx/stderr" "$WORK/nginx/error.log" "$WORK/uwsgi.log" >&2; exit 1; }
wait_ok "http://127.0.0.1:$DOCKSIDE_PORT/" || { cat "$WORK/dockside.log" >&2; exit 1; }

# Peak RSS (VmHWM) summed over a process and its children (nginx master + workers).
hwm_kib() {
  local total=0 p
  for p in $1 $(pgrep -P "$1" || true); do
    total=$((total + $(awk '/VmHWM/ {print $2}' "/proc/$p/status")))
  done
  echo "$total"
}

run_wrk() { # label url
  local out rps p50 p99
  out=$(wrk -t2 -c64 -d"$DURATION" --latency -H "Host: $HOST" "$2")
  echo "$out" >&2
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  printf '| %s | %s | %s | %s |\n' "$1" "$rps" "$p50" "$p99" >> "$WORK/table"
  echo "$1: $rps req/s, p50 $p50, p99 $p99" >&2
}

head -c $((100 << 20)) /dev/urandom > "$WORK/upload.bin"
run_upload() { # label url pid
  local t got
  t=$(curl -s -o "$WORK/upload.out" -w '%{time_total}' -H "Host: $HOST" \
    -H 'Content-Type: application/octet-stream' --data-binary "@$WORK/upload.bin" "$2")
  got=$(cat "$WORK/upload.out")
  [ "$got" = $((100 << 20)) ] || { echo "$1: upload answered '$got'" >&2; exit 1; }
  printf '| %s | %s s | %s KiB |\n' "$1" "$t" "$(hwm_kib "$3")" >> "$WORK/uploads"
  echo "$1: 100 MiB upload in $t s" >&2
}

LOAD_BEFORE=$(uptime)
: > "$WORK/table"; : > "$WORK/uploads"
run_wrk "nginx uwsgi_pass" "http://127.0.0.1:$NGINX_PORT/"
run_wrk "dockside" "http://127.0.0.1:$DOCKSIDE_PORT/"
HWM_WRK_NGINX=$(hwm_kib "$NGINX_PID") HWM_WRK_DOCKSIDE=$(hwm_kib "$DOCKSIDE_PID")
run_upload "nginx uwsgi_pass" "http://127.0.0.1:$NGINX_PORT/upload" "$NGINX_PID"
run_upload "dockside" "http://127.0.0.1:$DOCKSIDE_PORT/upload" "$DOCKSIDE_PID"
LOAD_AFTER=$(uptime)

mkdir -p docs/bench
{
  echo "## uwsgi: nginx \`uwsgi_pass\` vs dockside \`VIRTUAL_PROTO=uwsgi\`"
  echo
  echo "Measured by \`scripts/bench-uwsgi.sh\` on $(date -u +%Y-%m-%d) ($(nproc) cores shared by wrk, the"
  echo "proxy and uWSGI; other engineers' jobs share the machine, so compare the rows, not the"
  echo "absolute numbers). uWSGI $(uwsgi --version) with 2 processes, \`--buffer-size 32768\`, a"
  echo "\"hello\" WSGI app (5-byte body with Content-Length). nginx $("$NGINX" -v 2>&1 | sed 's/.*\///'): one worker per"
  echo "core, \`include uwsgi_params\`, \`keepalive_requests 1000000\`, access log off. dockside: release"
  echo "build, \`$DOCKSIDE_CMD\` with \`DISABLE_ACCESS_LOGS=true\`."
  echo
  echo "\`wrk -t2 -c64 -d$DURATION --latency -H 'Host: $HOST' http://127.0.0.1:PORT/\`"
  echo
  echo "| proxy | req/s | p50 | p99 |"
  echo "|---|---|---|---|"
  cat "$WORK/table"
  echo
  echo "100 MiB POST with Content-Length (\`curl --data-binary @100MiB.bin\`, the app reads it all):"
  echo
  echo "| proxy | wall time | proxy peak RSS (VmHWM, all processes) |"
  echo "|---|---|---|"
  cat "$WORK/uploads"
  echo
  echo "Peak RSS after the wrk runs, before the uploads: nginx $HWM_WRK_NGINX KiB (master + workers),"
  echo "dockside $HWM_WRK_DOCKSIDE KiB."
  echo
  echo "Load: before \`$LOAD_BEFORE\`; after \`$LOAD_AFTER\`."
} > docs/bench/uwsgi.md
cat docs/bench/uwsgi.md
