#!/usr/bin/env bash
# EvenTicket, from end to end: Ordering (HTTP), the order saga, Inventory, Payments and
# Shipping as separate processes on the shmbus service bus; places orders over HTTP, kills
# workers with kill -9 mid-flight and restarts them, waits until every order is completed or
# cancelled, and prints a summary with a consistency check (exit 0 only if it holds).
#
#   examples/eventicket/run.sh [--orders N] [--two-hosts] [--kill "payments inventory order-saga"]
#   examples/eventicket/run.sh --serve PORT      # the system, with the API on 127.0.0.1:PORT, until SIGTERM
#
# --two-hosts: two buses (two bus directories, "host A": Ordering + saga, "host B": Inventory,
#   Payments, Shipping) joined by RabbitMQ through two `shmbus bridge` processes. The broker is
#   $SHMBUS_AMQP_URL if set, else a private node started here (tools/rabbitmq_node.sh).
# Other options: --timeout S (for every order to finish, default 90), --fault F (Payments'
#   injected failure rate, default 0.2), --rate R (orders per second, default 50), --seed S,
#   --payment-timeout-ms MS (default 10000), --build DIR (default $SHMBUS_BUILD_DIR or build/;
#   $EVENTICKET and $SHMBUS_CLI name the two programs directly), --keep (leave the run directory:
#   logs, databases, buses; kept anyway when the run fails).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
orders=200
two_hosts=0
serve_port=""
kill_list="payments inventory order-saga"
timeout=90
fault=0.2
rate=50
seed=1
payment_timeout_ms=10000
build=${SHMBUS_BUILD_DIR:-$root/build}
keep=0

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --orders) orders=$2; shift 2 ;;
    --two-hosts) two_hosts=1; shift ;;
    --serve) serve_port=$2; shift 2 ;;
    --kill) kill_list=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --fault) fault=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --payment-timeout-ms) payment_timeout_ms=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) usage ;;
    *) echo "run.sh: unknown option $1" >&2; usage ;;
  esac
done

say() { echo "run.sh: $*"; }
die() { echo "run.sh: $*" >&2; keep=1; exit 1; }

# --- the programs: the build directory's, built first if they are missing -------------------
bin=${EVENTICKET:-$build/examples/eventicket/eventicket}
cli=${SHMBUS_CLI:-$build/tools/cli/shmbus}
if [ ! -x "$bin" ] || [ ! -x "$cli" ]; then
  say "building eventicket and shmbus in $build"
  if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHMBUS_LTO=OFF > "$build.cmake.log" 2>&1 ||
      die "cmake failed (see $build.cmake.log; tools/deps.sh installs what is needed)"
  fi
  nice -n 19 ninja -C "$build" eventicket shmbus_cli || die "the build failed"
fi
[ -x "$bin" ] || die "$bin was not built: is libcpp-httplib-dev installed (tools/deps.sh)?"

# --- the run directory: buses, databases and logs (tmpfs when there is one) -----------------
base=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
run=$(mktemp -d "$base/eventicket.XXXXXX")
logs=$run/logs
mkdir -p "$logs"
host_a=$run/host-a
host_b=$host_a
[ "$two_hosts" = 1 ] && host_b=$run/host-b
mkdir -p "$host_a/data" "$host_b/data"

declare -A pid=() host_of=() args_of=()
bridges=()
rabbit_dir=""

stop_pid() {  # SIGTERM, then up to 30 s for a graceful stop, then SIGKILL
  local p=$1 i
  kill -TERM "$p" 2> /dev/null || return 0
  for i in $(seq 300); do kill -0 "$p" 2> /dev/null || break; sleep 0.1; done
  kill -9 "$p" 2> /dev/null || true
  wait "$p" 2> /dev/null || true
}
driver=""
cleanup() {
  local name
  [ -n "$driver" ] && stop_pid "$driver"
  for name in ordering order-saga inventory payments shipping; do
    [ -n "${pid[$name]:-}" ] && stop_pid "${pid[$name]}"
  done
  for p in "${bridges[@]}"; do stop_pid "$p"; done
  if [ -n "$rabbit_dir" ]; then
    "$root/tools/rabbitmq_node.sh" stop "$rabbit_dir" > "$logs/rabbitmq-stop.log" 2>&1 || true
    rm -rf "$rabbit_dir"
  fi
  if [ "$keep" = 1 ]; then say "kept $run"; else rm -rf "$run"; fi
}
trap cleanup EXIT

wait_for_line() {  # file pattern seconds process
  local file=$1 pattern=$2 seconds=$3 p=$4 i
  for i in $(seq $((seconds * 10))); do
    grep -q "$pattern" "$file" 2> /dev/null && return 0
    kill -0 "$p" 2> /dev/null || { cat "$file" >&2; die "process $p died (log above)"; }
    sleep 0.1
  done
  cat "$file" >&2
  die "no '$pattern' in $file within $seconds s"
}

# start NAME ROLE HOST [ARGS...]: runs `eventicket ROLE` on HOST's bus, waits until it is ready.
start() {
  local name=$1 role=$2 host=$3; shift 3
  host_of[$name]=$host
  args_of[$name]="$role --bus $host/bus --data $host/data $*"
  # shellcheck disable=SC2086
  "$bin" ${args_of[$name]} >> "$logs/$name.log" 2>&1 &
  pid[$name]=$!
  wait_for_line "$logs/$name.log" "ready" 60 "${pid[$name]}"
  # The next start looks for "ready" again: mark where this one ended.
  echo "(run.sh: pid ${pid[$name]} ready)" >> "$logs/$name.log"
}
restart() {
  local name=$1
  : > "$logs/$name.restart.log"
  # shellcheck disable=SC2086
  "$bin" ${args_of[$name]} >> "$logs/$name.restart.log" 2>&1 &
  pid[$name]=$!
  wait_for_line "$logs/$name.restart.log" "ready" 60 "${pid[$name]}"
  cat "$logs/$name.restart.log" >> "$logs/$name.log"
}

free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# --- two hosts: a broker and one bridge per bus ----------------------------------------------
bridge_config() {  # host-letter my-commands-in their-commands-out
  local me=$1 bindings=$2 outbound=$3 suffix
  suffix=$(basename "$run")
  {
    echo "[bridge]"
    echo "origin = \"host-$me\""
    echo "[broker]"
    echo "url_env = \"SHMBUS_AMQP_URL\""
    echo "[[exchange]]"
    echo "name = \"eventicket-$suffix\""
    echo "type = \"topic\""
    for endpoint in $outbound; do  # commands for endpoints on the other host: a stand-in queue each
      echo "[[outbound]]"
      echo "name = \"commands-$endpoint\""
      echo "topics = \"commands.$endpoint\""
      echo "queue = \"bridge.$endpoint\""
      echo "exchange = \"eventicket-$suffix\""
    done
    echo "[[outbound]]"  # this host's events, to the other
    echo "name = \"events-out\""
    echo "topics = \"events.#\""
    echo "exchange = \"eventicket-$suffix\""
    echo "cursor = \"to-rabbit-events\""
    echo "[[inbound]]"  # commands for this host's endpoints, and the other host's events
    echo "name = \"in\""
    echo "queue = \"eventicket-$suffix-$me-in\""
    echo "topic_from = \"routing_key\""
    echo -n "bindings = [{ exchange = \"eventicket-$suffix\", routing_key = \"events.#\" }"
    for endpoint in $bindings; do echo -n ", { exchange = \"eventicket-$suffix\", routing_key = \"commands.$endpoint\" }"; done
    echo "]"
  } > "$run/host-$me.toml"
}
start_bridge() {  # host-letter
  local me=$1 host=$run/host-$1 i
  "$cli" --bus "$host/bus" bridge --config "$run/host-$me.toml" > "$logs/bridge-$me.log" 2>&1 &
  bridges+=($!)
  local p=$!
  for i in $(seq 600); do
    kill -0 "$p" 2> /dev/null || { cat "$logs/bridge-$me.log" >&2; die "the bridge of host $me died"; }
    if "$cli" --bus "$host/bus" bridge status --config "$run/host-$me.toml" --json 2> /dev/null |
        /usr/bin/python3 -c 'import json, sys; s = json.load(sys.stdin); sys.exit(0 if s.get("pid") == int(sys.argv[1]) and all(l["connected"] for l in s["links"]) else 1)' "$p" 2> /dev/null; then
      return 0
    fi
    sleep 0.1
  done
  die "the bridge of host $me did not connect within 60 s (log: $logs/bridge-$me.log)"
}

if [ "$two_hosts" = 1 ]; then
  if [ -z "${SHMBUS_AMQP_URL:-}" ]; then
    rabbit_dir=$(mktemp -d /tmp/eventicket-rabbitmq.XXXXXX)  # under /tmp: the node's user must reach it
    say "starting a private RabbitMQ node"
    "$root/tools/rabbitmq_node.sh" start "$rabbit_dir" > "$logs/rabbitmq.log" 2>&1 || { cat "$logs/rabbitmq.log" >&2; die "RabbitMQ did not start"; }
    SHMBUS_AMQP_URL=$(sed -n 's/^AMQP_URL=//p' "$rabbit_dir/env")
    export SHMBUS_AMQP_URL
  fi
  bridge_config a "" "inventory payments shipping"
  bridge_config b "inventory payments shipping" ""
fi

# --- the system ------------------------------------------------------------------------------
port=${serve_port:-$(free_port)}
# A queue joins its topics at their tail: the endpoints come first, then the bridges that bring
# their commands in, then the senders (the saga, Ordering), then the traffic.
start inventory inventory "$host_b"
start payments payments "$host_b" --fault "$fault"
start shipping shipping "$host_b"
if [ "$two_hosts" = 1 ]; then
  start_bridge b
  start_bridge a
  say "two hosts: $host_a/bus (Ordering, saga) and $host_b/bus (Inventory, Payments, Shipping), bridged by RabbitMQ"
fi
start order-saga saga "$host_a" --payment-timeout-ms "$payment_timeout_ms"
start ordering ordering "$host_a" --port "$port"

buses=(--bus "$host_a/bus")
datas=(--data "$host_a/data")
if [ "$two_hosts" = 1 ]; then buses+=(--bus "$host_b/bus"); datas+=(--data "$host_b/data"); fi

if [ -n "$serve_port" ]; then
  say "EvenTicket is serving on http://127.0.0.1:$port (POST /orders, GET /orders/{id}); SIGTERM stops it"
  stopping=0
  trap 'stopping=1' TERM INT
  while [ "$stopping" = 0 ]; do
    sleep 0.5 &
    wait $! || true
  done
  say "stopping"
  exit 0
fi

say "placing $orders orders on http://127.0.0.1:$port"
: > "$logs/drive.log"
"$bin" drive --port "$port" --orders "$orders" --rate "$rate" --seed "$seed" --timeout "$timeout" > "$logs/drive.log" 2>&1 &
driver=$!

# Kill each worker of the list in turn with kill -9 while orders are being placed (so messages
# are in flight in every service), and restart it at once: the driver's pace, not the services',
# decides when, so the kills land mid-run however fast the machine is.
victims=($kill_list)
progress() { sed -n "s/^progress placed=\([0-9]*\) finished=\([0-9-]*\)$/\\$1/p" "$logs/drive.log" | tail -1; }
k=0
for victim in "${victims[@]}"; do
  [ -n "${pid[$victim]:-}" ] || die "--kill: no process named $victim (ordering, order-saga, inventory, payments, shipping)"
  k=$((k + 1))
  want=$((orders * k / (${#victims[@]} + 1)))
  while kill -0 "$driver" 2> /dev/null; do
    placed=$(progress 1)
    [ -n "$placed" ] && [ "$placed" -ge "$want" ] && break
    sleep 0.05
  done
  kill -9 "${pid[$victim]}"
  wait "${pid[$victim]}" 2> /dev/null || true
  say "killed $victim (pid ${pid[$victim]}) with kill -9 at $(progress 1) of $orders orders placed, $(progress 2) finished; restarting it"
  sleep 0.3
  restart "$victim"
done

drive_rc=0
wait "$driver" || drive_rc=$?
cat "$logs/drive.log" | grep -v '^progress'
[ "$drive_rc" = 0 ] || say "the driver failed (exit $drive_rc)"

report_rc=0
"$bin" report "${buses[@]}" "${datas[@]}" || report_rc=$?
if [ "$drive_rc" != 0 ] || [ "$report_rc" != 0 ]; then
  keep=1
  exit 1
fi
exit 0
