#!/usr/bin/env bash
# shmbus against the systems a user would pick instead (iceoryx, ZeroMQ ipc, Unix domain
# sockets, Boost.Interprocess message_queue), with the physical floor, in one run: installs the
# peers' Debian packages if missing, builds, runs every measurement SHMBUS_BENCH_REPS times
# (default 3) interleaved, prints markdown tables and writes PNG plots to bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh libzmq3-dev libiceoryx-posh-dev iceoryx python3-matplotlib
# What a user runs: Release, without the crash points the test build compiles into publish.
build=build-bench
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSHMBUS_KILL_POINTS=OFF -DSHMBUS_WERROR=ON > /dev/null
ninja -C "$build" -j "$(nproc)" > /dev/null

reps=${SHMBUS_BENCH_REPS:-3}
sizes=(8 64 256 1024 4096 16384 65536)
peers=(shmbus shmbus_journal iceoryx boost_mq unix_socket zeromq)
results=bench/results/peers.jsonl
: > "$results"
run() {  # a measurement that fails is reported and left out, never fatal to the run
  "$@" >> "$results" 2> >(grep -v "Debug \]" >&2) || echo "failed: $*" >&2  # (iceoryx logs at debug level)
}
# iceoryx needs its daemon: started here for the whole run, stopped at the end.
roudi=""
if [ -x "$build"/bench/peers/peer_iceoryx ] && command -v iox-roudi > /dev/null; then
  iox-roudi > /dev/null 2>&1 &
  roudi=$!
  trap '[ -n "$roudi" ] && kill "$roudi" 2> /dev/null && wait "$roudi" 2> /dev/null || true' EXIT
  sleep 1
fi
for rep in $(seq 1 "$reps"); do
  echo "== repetition $rep/$reps" >&2
  "$build"/tools/cli/shmbus bench --only floor --repetitions 1 --json |
    /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps({"system": "floor", **d["floor"]}))' >> "$results"
  # Latency of every system, then each stream size across every system: the measurements a
  # ratio compares run seconds apart, not minutes (the host changes speed within minutes).
  for peer in "${peers[@]}"; do
    exe=$build/bench/peers/peer_$peer
    [ -x "$exe" ] || { [ "$rep" = 1 ] && echo "skipped: $peer (not built: its package is missing)" >&2; continue; }
    run "$exe" --mode latency --size 64 --rounds 100000
  done
  for size in "${sizes[@]}"; do
    for peer in "${peers[@]}"; do
      exe=$build/bench/peers/peer_$peer
      if [ -x "$exe" ]; then run "$exe" --mode stream --size "$size" --seconds 0.7 --warmup 0.3; fi
    done
  done
done
/usr/bin/python3 bench/peers/report.py "$results" bench/results
echo "plots: bench/results/peers-latency.png peers-throughput-msgs.png peers-throughput-bytes.png memory-vs-journal.png" >&2
