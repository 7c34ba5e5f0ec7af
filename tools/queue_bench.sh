#!/usr/bin/env bash
# shmbus durable queues against RabbitMQ (issue 13) in one run: installs nothing beyond
# tools/deps.sh, builds shmbus_queue_bench (Release, without the test build's crash points),
# starts a private RabbitMQ node (tools/rabbitmq_node.sh), runs every measurement
# SHMBUS_QUEUE_BENCH_REPS times (default 5) interleaved, stops the node (always: on success,
# failure or a signal) and prints markdown on stdout. Arguments go to shmbus_queue_bench
# (e.g. --quick for a smoke run). SHMBUS_BUILD_DIR (default build-bench), SHMBUS_JOBS (default nproc).
# Needs root (or the rabbitmq user) for the node, as tools/rabbitmq_node.sh does.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh >&2
build=${SHMBUS_BUILD_DIR:-build-bench}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSHMBUS_KILL_POINTS=OFF -DSHMBUS_WERROR=ON \
  -DSHMBUS_BUILD_PYTHON=OFF > /dev/null
nice -n 19 ninja -C "$build" -j "${SHMBUS_JOBS:-$(nproc)}" shmbus_queue_bench > /dev/null
exe=$build/bench/queue/shmbus_queue_bench
[ -x "$exe" ] || { echo "queue_bench.sh: $exe was not built (is librabbitmq-dev installed?)" >&2; exit 1; }

# Every path of this run, removed at the end: the node's directory (under /tmp: the rabbitmq user
# must reach it), the buses in /dev/shm, the fsync-always segments on disk.
rabbit_dir=$(mktemp -d /tmp/shmbus-qbench-rabbitmq.XXXXXX)
scratch=/dev/shm/shmbus-qbench-$$
disk_dir=$(mktemp -d /var/tmp/shmbus-qbench.XXXXXX)
bench_pid=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if [ -n "$bench_pid" ] && kill -0 "$bench_pid" 2> /dev/null; then
    kill -TERM "$bench_pid" 2> /dev/null || true  # its processes die with it (PR_SET_PDEATHSIG)
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$bench_pid" 2> /dev/null || break; sleep 0.2; done
    kill -KILL "$bench_pid" 2> /dev/null || true
    wait "$bench_pid" 2> /dev/null || true
  fi
  if [ -f "$rabbit_dir/env" ]; then tools/rabbitmq_node.sh stop "$rabbit_dir" >&2 || rc=1; fi
  rm -rf "$rabbit_dir" "$scratch" "$disk_dir"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

tools/rabbitmq_node.sh start "$rabbit_dir" >&2
# shellcheck disable=SC1091
. "$rabbit_dir/env"
echo "RabbitMQ $(dpkg-query -W -f='${Version}' rabbitmq-server 2> /dev/null || echo '?') (Debian), Erlang" \
  "$(dpkg-query -W -f='${Version}' erlang-base 2> /dev/null || echo '?'), rabbitmq-c" \
  "$(dpkg-query -W -f='${Version}' librabbitmq-dev 2> /dev/null || echo '?'); commit $(git rev-parse --short HEAD 2> /dev/null || echo '?')"
echo "uptime before: $(uptime)"
echo
broker_pid=$(cat "$PID_FILE" 2> /dev/null || echo 0)
TMPDIR=$disk_dir "$exe" --repetitions "${SHMBUS_QUEUE_BENCH_REPS:-5}" --amqp-url "$AMQP_URL" --scratch "$scratch" \
  --broker-pid "$broker_pid" "$@" &
bench_pid=$!
wait "$bench_pid"
bench_pid=""
echo
echo "uptime after: $(uptime)"
