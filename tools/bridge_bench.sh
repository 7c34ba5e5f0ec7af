#!/usr/bin/env bash
# The RabbitMQ bridge against a bare rabbitmq-c client (issue 14) in one run: builds
# shmbus_bridge_bench and the shmbus CLI (Release, without the test build's crash points, in
# build-bench), starts a private RabbitMQ node (tools/rabbitmq_node.sh), runs every measurement
# SHMBUS_BRIDGE_BENCH_REPS times (default 5) interleaved, stops the node (always: on success,
# failure or a signal) and prints markdown on stdout. Arguments go to shmbus_bridge_bench
# (e.g. --quick for a smoke run, --messages N, --only outbound|inbound|latency; --compare-cli
# OTHER/shmbus runs a second bridge build inbound, e.g. a base commit's, paired with the same bare
# runs; --retain-bytes B gives the inbound topics retention, so retired segments are reused).
# SHMBUS_BUILD_DIR: a build directory to use as it is configured (not reconfigured); default
# build-bench (configured Release here). SHMBUS_JOBS (default nproc).
# Needs root (or the rabbitmq user) for the node, as tools/rabbitmq_node.sh does.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${SHMBUS_BUILD_DIR:-}" ] && [ -f "$SHMBUS_BUILD_DIR/CMakeCache.txt" ]; then
  build=$SHMBUS_BUILD_DIR
else
  tools/deps.sh >&2
  build=${SHMBUS_BUILD_DIR:-build-bench}
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSHMBUS_KILL_POINTS=OFF -DSHMBUS_WERROR=ON \
    -DSHMBUS_BUILD_PYTHON=OFF > /dev/null
fi
nice -n 19 ninja -C "$build" -j "${SHMBUS_JOBS:-$(nproc)}" shmbus_bridge_bench shmbus_cli > /dev/null
exe=$build/bench/bridge/shmbus_bridge_bench
cli=$build/tools/cli/shmbus
[ -x "$exe" ] || { echo "bridge_bench.sh: $exe was not built (is librabbitmq-dev installed?)" >&2; exit 1; }

# Every path of this run, removed at the end: the node's directory (under /tmp: the rabbitmq user
# must reach it) and the bus with its journals in /dev/shm.
rabbit_dir=$(mktemp -d /tmp/shmbus-bbench-rabbitmq.XXXXXX)
scratch=/dev/shm/shmbus-bbench-$$
bench_pid=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if [ -n "$bench_pid" ] && kill -0 "$bench_pid" 2> /dev/null; then
    kill -TERM "$bench_pid" 2> /dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$bench_pid" 2> /dev/null || break; sleep 0.2; done
    kill -KILL "$bench_pid" 2> /dev/null || true
    wait "$bench_pid" 2> /dev/null || true
  fi
  if [ -f "$rabbit_dir/env" ]; then tools/rabbitmq_node.sh stop "$rabbit_dir" >&2 || rc=1; fi
  rm -rf "$rabbit_dir" "$scratch"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

tools/rabbitmq_node.sh start "$rabbit_dir" >&2
# shellcheck disable=SC1091
. "$rabbit_dir/env"
echo "RabbitMQ $(dpkg-query -W -f='${Version}' rabbitmq-server 2> /dev/null || echo '?') (Debian), Erlang" \
  "$(dpkg-query -W -f='${Version}' erlang-base 2> /dev/null || echo '?'), rabbitmq-c" \
  "$(dpkg-query -W -f='${Version}' librabbitmq-dev 2> /dev/null || echo '?'); commit $(git rev-parse --short HEAD 2> /dev/null || echo '?');" \
  "build $(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt")"
echo "uptime before: $(uptime)"
echo
broker_pid=$(cat "$PID_FILE" 2> /dev/null || echo 0)
"$exe" --cli "$cli" --amqp-url "$AMQP_URL" --broker-pid "$broker_pid" --scratch "$scratch" --repetitions "${SHMBUS_BRIDGE_BENCH_REPS:-5}" "$@" &
bench_pid=$!
wait "$bench_pid"
bench_pid=""
echo
echo "uptime after: $(uptime)"
