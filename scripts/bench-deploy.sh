#!/usr/bin/env bash
# Deployment figures for docs/bench/deploy.md: image size, container start → first 200 through
# dockside (N runs), idle RSS of the dockside container. Uses the real engine, dockside:latest
# (scripts/build-image.sh) and dockside-test-backend:latest (scripts/build-test-image.sh).
# Cleans up what it creates (named bench-deploy-$$-*).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${RUNS:-7}
IMAGE=${IMAGE:-dockside:latest}
"$root/scripts/build-test-image.sh"
"$root/scripts/build-image.sh" >/dev/null

p=bench-deploy-$$
net=$p-net
cleanup() {
  docker rm -f -v "$p-web" "$p-proxy" >/dev/null 2>&1 || true
  docker network rm "$net" >/dev/null 2>&1 || true
}
trap cleanup EXIT
now_ms() { date +%s%3N; }

echo "# uptime: $(uptime)"
size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
echo "image $IMAGE: $size bytes ($(awk -v s="$size" 'BEGIN{printf "%.1f MiB", s/1048576}'))"

docker network create "$net" >/dev/null
docker run -d --name "$p-web" --network "$net" -e VIRTUAL_HOST=bench.test \
  dockside-test-backend:latest >/dev/null

starts=()
ready=()
for i in $(seq 1 "$RUNS"); do
  docker rm -f -v "$p-proxy" >/dev/null 2>&1 || true
  t0=$(now_ms)
  docker run -d --name "$p-proxy" --network "$net" -p 127.0.0.1::80 \
    -v /var/run/docker.sock:/tmp/docker.sock:ro "$IMAGE" >/dev/null
  addr=$(docker port "$p-proxy" 80/tcp | grep '^127.0.0.1:' | head -1)
  deadline=$((t0 + 20000))
  until [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 -H 'Host: bench.test' "http://$addr/")" == 200 ]]; do
    (($(now_ms) < deadline)) || { echo "no 200 within 20 s"; docker logs "$p-proxy"; exit 1; }
    sleep 0.01
  done
  t1=$(now_ms)
  starts+=($((t1 - t0)))
  # From the engine's StartedAt (the process exec'd) to the first 200.
  started=$(date -d "$(docker inspect -f '{{.State.StartedAt}}' "$p-proxy")" +%s%3N)
  ready+=($((t1 - started)))
done
sorted=$(printf '%s\n' "${starts[@]}" | sort -n | tr '\n' ' ')
median=$(printf '%s\n' "${starts[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
echo "docker run → first 200 through dockside, ms (n=$RUNS, sorted): $sorted; median $median"
sorted=$(printf '%s\n' "${ready[@]}" | sort -n | tr '\n' ' ')
median=$(printf '%s\n' "${ready[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
echo "container StartedAt → first 200 (includes curl's 10 ms polling), ms (sorted): $sorted; median $median"

# The engine's own share: docker run of the same image until the process has exited.
t0=$(now_ms)
docker run --rm "$IMAGE" --version >/dev/null
echo "docker run --rm $IMAGE --version (engine overhead baseline): $(($(now_ms) - t0)) ms"

# Idle memory, after a short warm-up (100 requests) and 5 s of quiet.
for _ in $(seq 1 100); do curl -s -o /dev/null -H 'Host: bench.test' "http://$addr/"; done
sleep 5
pid=$(docker inspect -f '{{.State.Pid}}' "$p-proxy")
rss=$(awk '/^VmRSS:/{print $2" "$3}' "/proc/$pid/status")
hwm=$(awk '/^VmHWM:/{print $2" "$3}' "/proc/$pid/status")
anon=$(awk '/^RssAnon:/{print $2" "$3}' "/proc/$pid/status")
file=$(awk '/^RssFile:/{print $2" "$3}' "/proc/$pid/status")
echo "dockside container PID 1 (host pid $pid): VmRSS $rss (RssAnon $anon, RssFile $file), VmHWM $hwm"
mem=$(docker stats --no-stream --format '{{.MemUsage}}' "$p-proxy")
echo "docker stats: $mem (docker's figure: cgroup memory minus inactive file cache)"
