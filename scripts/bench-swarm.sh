#!/usr/bin/env bash
# Swarm task start → first 200 through dockside (docs/benchmarks.md, "Swarm").
#
# A single-node swarm on loopback (created and left again unless the engine is already in one),
# an attachable overlay network, dockside's image as a container on it (as in a swarm: the host
# cannot reach task addresses), and one service of the busybox test image at 0 replicas. Each
# run: `docker service scale --detach svc=1` returns → poll dockside (curl, Host:
# swarm.bench.test) until 200; meanwhile a second loop polls the engine until it reports the
# task `running` (the floor: dockside cannot route a task before that). Then scale to 0 and
# wait for 503 and for the container to be gone. Prints each run and p50/p95/max in ms, and
# the per-run gap between the two (dockside's share).
#
# Usage: scripts/bench-swarm.sh [RUNS]   (default 20)
#   IMAGE=dockside-swarm-bench:latest   the dockside image (built by scripts/build-image.sh);
#                                       the backend is the test image under its own tag
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
IMAGE=${IMAGE:-dockside-swarm-bench:latest}
for tool in docker curl; do
  command -v "$tool" >/dev/null || { echo "$tool not found: scripts/install-test-deps.sh installs it" >&2; exit 1; }
done
# Tags of its own: an image another run replaces under a shared tag vanishes mid-benchmark.
BACKEND=dockside-bench-swarm-backend:latest
IMAGE=$BACKEND scripts/build-test-image.sh
IMAGE=$IMAGE scripts/build-image.sh >/dev/null

tag="dockside-bench-swarm-$$"
ours=0
if [[ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != active ]]; then
  docker swarm init --advertise-addr 127.0.0.1 >/dev/null
  ours=1
fi
cleanup() {
  docker service rm "$tag-web" >/dev/null 2>&1 || true
  docker rm -f "$tag-proxy" >/dev/null 2>&1 || true
  docker network rm "$tag-net" >/dev/null 2>&1 || true
  if [[ $ours == 1 ]]; then docker swarm leave --force >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# Polls `cmd` every few ms until it prints `want`; fails after 30 s.
until_says() {
  local want=$1; shift
  local deadline=$(( $(now_ms) + 30000 ))
  until [[ "$("$@" 2>/dev/null)" == "$want" ]]; do
    (( $(now_ms) < deadline )) || { echo "timed out waiting for $want from: $*" >&2; return 1; }
    sleep 0.002
  done
}
status() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 -H 'Host: swarm.bench.test' "http://$addr/"; }
task_state() {
  docker service ps --filter desired-state=running --format '{{.CurrentState}}' "$tag-web" | cut -d' ' -f1
}

docker network create --driver overlay --attachable "$tag-net" >/dev/null
docker run -d --name "$tag-proxy" --network "$tag-net" -p 127.0.0.1::80 \
  -v /var/run/docker.sock:/var/run/docker.sock:ro \
  -e "DOCKER_CONTAINER_FILTERS=label=$tag" "$IMAGE" >/dev/null
addr=$(docker port "$tag-proxy" 80/tcp | head -1)
docker service create --detach --no-resolve-image --name "$tag-web" --network "$tag-net" \
  --label VIRTUAL_HOST=swarm.bench.test --container-label "$tag=1" \
  --replicas 0 "$BACKEND" >/dev/null
until_says 503 status

echo "# $(date -u +%FT%TZ) $(docker version --format 'Docker {{.Server.Version}}') load: $(uptime)"
echo "run first_200_ms engine_running_ms"
proxy=() engine=() gap=()
for i in $(seq 1 "$runs"); do
  docker service scale --detach "$tag-web=1" >/dev/null 2>&1
  t0=$(now_ms)
  ( until_says Running task_state && now_ms >"/tmp/$tag.engine" ) &
  poller=$!
  until_says 200 status
  t1=$(now_ms)
  wait "$poller"
  te=$(cat "/tmp/$tag.engine")
  proxy+=($(( t1 - t0 ))) engine+=($(( te - t0 ))) gap+=($(( t1 - te )))
  echo "$i $(( t1 - t0 )) $(( te - t0 ))"
  docker service scale --detach "$tag-web=0" >/dev/null 2>&1
  until_says 503 status
  until_says "" docker ps -q --filter "label=$tag"
done
rm -f "/tmp/$tag.engine"

pct() { # pct P values... → the P-th percentile (nearest rank)
  local p=$1; shift
  local sorted=($(printf '%s\n' "$@" | sort -n))
  local k=$(( (p * ${#sorted[@]} + 99) / 100 - 1 ))
  echo "${sorted[$k]}"
}
echo "first 200 through dockside: p50 $(pct 50 "${proxy[@]}") ms, p95 $(pct 95 "${proxy[@]}") ms, max $(pct 100 "${proxy[@]}") ms"
echo "engine reports running:     p50 $(pct 50 "${engine[@]}") ms, p95 $(pct 95 "${engine[@]}") ms, max $(pct 100 "${engine[@]}") ms"
echo "dockside's share (per-run first 200 − engine running): p50 $(pct 50 "${gap[@]}") ms, p95 $(pct 95 "${gap[@]}") ms"
