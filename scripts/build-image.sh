#!/usr/bin/env bash
# Builds the deployment image `dockside:latest`: a static (crt-static glibc) release binary in
# an image FROM scratch (deploy/Dockerfile). Pulls nothing, so it works on a machine without
# registry access. Idempotent: cargo rebuilds only what changed and the docker build cache
# keys on the binary's content, so a second run takes seconds.
#
#   IMAGE=dockside:latest          tag to build
#   TARGET_DIR=target/static       separate target dir: the static build never invalidates
#                                  the dev build in target/
#   PROFILE=image                  cargo profile: `image` = release + fat LTO, 1 codegen unit (Cargo.toml)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IMAGE=${IMAGE:-dockside:latest}
TARGET_DIR=${TARGET_DIR:-$root/target/static}
PROFILE=${PROFILE:-image}
TRIPLE=x86_64-unknown-linux-gnu

command -v docker >/dev/null || { echo "docker not found: apt-get install docker.io" >&2; exit 1; }
command -v file >/dev/null || { echo "file not found: apt-get install file" >&2; exit 1; }

cd "$root"
RUSTFLAGS='-C target-feature=+crt-static' cargo build --locked --profile "$PROFILE" \
  --target "$TRIPLE" --target-dir "$TARGET_DIR" --bin dockside
bin="$TARGET_DIR/$TRIPLE/$PROFILE/dockside"
if ! file -L "$bin" | grep -q 'static'; then
  echo "$bin is not statically linked: $(file -L "$bin")" >&2
  exit 1
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir "$ctx/rootfs"
cp "$bin" "$ctx/rootfs/dockside"
# Upload spooling needs a writable /tmp; scratch has none. As an entry of rootfs/ its mode is
# kept (COPY of the directory itself would create /tmp 0755).
mkdir -m 1777 "$ctx/rootfs/tmp"
cp deploy/Dockerfile "$ctx/Dockerfile"

old=$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)
DOCKER_BUILDKIT=0 docker build -q -t "$IMAGE" "$ctx" >/dev/null 2>"$ctx/err" || {
  cat "$ctx/err" >&2
  exit 1
}
new=$(docker image inspect -f '{{.Id}}' "$IMAGE")
# The replaced image is now untagged: remove it (ours alone; never a global prune).
if [[ -n "$old" && "$old" != "$new" ]]; then docker rmi "$old" >/dev/null 2>&1 || true; fi
echo "$IMAGE $(docker image inspect -f '{{.Size}}' "$IMAGE") bytes"
