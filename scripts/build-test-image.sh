#!/usr/bin/env bash
# Builds `dockside-test-backend:latest`: FROM scratch + Debian's static busybox, serving a page
# that names the container (its hostname) with `httpd -f -p ${PORT:-80}`. Pulls nothing.
# Idempotent: exits at once when the image exists (FORCE=1 rebuilds).
# Health: run with `--health-cmd /bin/healthy` (/bin/sh is busybox too) — healthy while
# /tmp/ok exists (or $HEALTH_FILE).
set -euo pipefail
IMAGE=${IMAGE:-dockside-test-backend:latest}
VERSION=2 # bump when the image changes: an older image is rebuilt
have=$(docker image inspect -f '{{index .Config.Labels "dockside.test-image"}}' "$IMAGE" 2>/dev/null || true)
if [[ -z "${FORCE:-}" && "$have" == "$VERSION" ]]; then
  exit 0
fi
old=$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)
BUSYBOX=${BUSYBOX:-/bin/busybox}
if ! file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked'; then
  echo "$BUSYBOX is not a static busybox: apt-get install busybox-static" >&2
  exit 1
fi
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "$BUSYBOX" "$ctx/busybox"
cat >"$ctx/serve" <<'SH'
#!/bin/busybox sh
# Backend for dockside tests: a page naming this container, on ${PORT:-80}.
/bin/busybox mkdir -p /www /tmp
echo "$(/bin/busybox hostname)" >/www/index.html
exec /bin/busybox httpd -f -p "${PORT:-80}" -h /www
SH
cat >"$ctx/healthy" <<'SH'
#!/bin/busybox sh
# Healthcheck for tests: healthy while the file exists (touch /tmp/ok via docker exec).
exec /bin/busybox test -f "${HEALTH_FILE:-/tmp/ok}"
SH
cat >"$ctx/Dockerfile" <<DF
FROM scratch
COPY busybox /bin/busybox
COPY serve healthy /bin/
RUN ["/bin/busybox", "ln", "-s", "busybox", "/bin/sh"]
LABEL dockside.test-image=$VERSION
ENTRYPOINT ["/bin/serve"]
DF
chmod +x "$ctx/serve" "$ctx/healthy" "$ctx/busybox"
DOCKER_BUILDKIT=0 docker build -q -t "$IMAGE" "$ctx" >/dev/null 2>&1 || DOCKER_BUILDKIT=0 docker build -t "$IMAGE" "$ctx"
new=$(docker image inspect -f '{{.Id}}' "$IMAGE")
# The replaced image is now untagged: remove it (ours alone; never a global prune).
if [[ -n "$old" && "$old" != "$new" ]]; then docker rmi "$old" >/dev/null 2>&1 || true; fi
