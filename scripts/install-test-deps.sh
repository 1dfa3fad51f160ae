#!/usr/bin/env bash
# Installs what the test suite drives for real: curl/openssl clients, uWSGI, PHP-FPM, Pebble, etcd,
# protoc (build), busybox-static (backend images), htpasswd, grpcio, nginx/wrk/h2load (benchmarks). Debian/Ubuntu, as root.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have curl || need+=(curl)
have openssl || need+=(openssl)
have uwsgi || need+=(uwsgi)
[ -e /usr/lib/uwsgi/plugins/python3_plugin.so ] || need+=(uwsgi-plugin-python3)
have pebble || need+=(pebble)
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx httpd && file -L /bin/busybox 2>/dev/null | grep -q static || need+=(busybox-static)
have nghttp || need+=(nghttp2-client)
have python3 || need+=(python3)
# tests/grpc_proxy.rs, scripts/bench-grpc.sh: the real grpcio server and client (Debian's python3)
/usr/bin/python3 -c 'import grpc' >/dev/null 2>&1 || need+=(python3-grpcio)
# tests/metrics.rs: /metrics must parse with the official Python client's OpenMetrics parser
/usr/bin/python3 -c 'import prometheus_client.openmetrics.parser' >/dev/null 2>&1 || need+=(python3-prometheus-client)
have file || need+=(file)
# tests/common/policy.rs: basic-auth hashes (bcrypt, {SHA}) made by the real htpasswd
have htpasswd || need+=(apache2-utils)
# tests/fastcgi_proxy.rs, scripts/bench-fastcgi.sh: a real PHP-FPM (php-fpm8.2 on Debian 12)
compgen -G '/usr/sbin/php-fpm*' >/dev/null || need+=(php-fpm)
# tests/deploy_image.rs: `docker-compose config` on deploy/*.yml
have docker-compose || need+=(docker-compose)
# tests/acme_dns01.rs: a real authoritative DNS server for DNS-01 (knotd) and kdig to look
have knotd || [ -x /usr/sbin/knotd ] || need+=(knot)
have kdig || need+=(knot-dnsutils)
# tests/admin_dashboard.rs: the dashboard in a real headless browser, the JSON API checked
# against docs/admin-api.schema.json, /metrics read by the official Prometheus parser
have chromium || need+=(chromium)
/usr/bin/python3 -c 'import jsonschema' >/dev/null 2>&1 || need+=(python3-jsonschema)
/usr/bin/python3 -c 'import prometheus_client' >/dev/null 2>&1 || need+=(python3-prometheus-client)
# tests/admin_auth.rs: a network namespace and a veth pair (`ip netns`, `ip link`)
have ip || need+=(iproute2)
# The build itself: etcd-client (src/store/, `--store`) compiles etcd's .proto files with protoc
have protoc || need+=(protobuf-compiler)
# tests/shared_store.rs: a real three-member etcd cluster (etcd) and etcdctl to look into it
[ -x /usr/bin/etcd ] || need+=(etcd-server)
have etcdctl || need+=(etcd-client)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! have apt-get; then
  echo "missing test prerequisites: ${need[*]}" >&2
  echo "install them with: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "installing test prerequisites: ${need[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
