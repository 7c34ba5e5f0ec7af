#!/usr/bin/env bash
# Installs what is missing, starts a private RabbitMQ node (tools/rabbitmq_node.sh), then runs
# every test: ctest in three builds (ASan + UBSan, ThreadSanitizer for the in-process thread
# races, the -Werror release build), 60 s of libFuzzer, then pytest against the release build with
# Debian's /usr/bin/python3. The TSan and release builds compile beside the tests before them.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh
jobs=$(nproc)

# A private RabbitMQ node for the bridge tests (label `bridge`), stopped at exit whatever happens.
rabbit_dir=$(mktemp -d /tmp/shmbus-rabbitmq.XXXXXX)
pg_dir=""
declare -A building=()  # name -> pid of a build running beside the tests (below), each a process group of its own
# At exit: the builds killed, the servers stopped quietly (the run's output ends with ctest's and
# pytest's summaries; a failed stop says so in /tmp/shmbus-rabbitmq-stop.log and -postgres-stop.log).
cleanup() {
  for pid in "${building[@]}"; do kill -- -"$pid" 2> /dev/null || true; done
  tools/rabbitmq_node.sh stop "$rabbit_dir" > /tmp/shmbus-rabbitmq-stop.log 2>&1 || true; rm -rf "$rabbit_dir"
  if [ -n "$pg_dir" ]; then
    tools/postgres_node.sh stop "$pg_dir" > /tmp/shmbus-postgres-stop.log 2>&1 || true; rm -rf "$pg_dir"
  fi
  rm -rf "$logs"
}
logs=$(mktemp -d /tmp/shmbus-test-logs.XXXXXX)
trap cleanup EXIT
tools/rabbitmq_node.sh start "$rabbit_dir"
SHMBUS_AMQP_URL=$(sed -n 's/^AMQP_URL=//p' "$rabbit_dir/env")
# Its TLS listener and private CA (tests/python/test_bridge_tls.py).
SHMBUS_AMQPS_URL=$(sed -n 's/^AMQPS_URL=//p' "$rabbit_dir/env")
SHMBUS_TLS_CA=$(sed -n 's/^TLS_CA=//p' "$rabbit_dir/env")
SHMBUS_TLS_CLIENT_CERT=$(sed -n 's/^TLS_CLIENT_CERT=//p' "$rabbit_dir/env")
SHMBUS_TLS_CLIENT_KEY=$(sed -n 's/^TLS_CLIENT_KEY=//p' "$rabbit_dir/env")
# The bridge's soak tests stop and start this node (tools/rabbitmq_node.sh on the same dir).
SHMBUS_RABBITMQ_DIR=$rabbit_dir
export SHMBUS_AMQP_URL SHMBUS_RABBITMQ_DIR SHMBUS_AMQPS_URL SHMBUS_TLS_CA SHMBUS_TLS_CLIENT_CERT SHMBUS_TLS_CLIENT_KEY

# A private PostgreSQL cluster for the outbox, inbox and saga tests (without SHMBUS_POSTGRES_URL
# their PostgreSQL cases skip), stopped at exit like the broker.
pg_dir=$(mktemp -d /tmp/shmbus-postgres.XXXXXX)
tools/postgres_node.sh start "$pg_dir"
SHMBUS_POSTGRES_URL=$(sed -n 's/^SHMBUS_POSTGRES_URL=//p' "$pg_dir/env")
export SHMBUS_POSTGRES_URL

echo "== Layers"
tools/check_layers.sh

# Each build after the first runs at nice 19 while the tests of the one before run: ctest leaves
# about a core idle (its tests wait for timers, children and each other), and a nice-19 compiler
# gives a core back to any test that wants it, as the other sessions' builds do on a shared
# machine. in_background NAME COMMANDS starts one (its output in a log); joined NAME waits for
# it, and prints the log and fails if the build failed.
in_background() {
  setsid nice -n 19 bash -c "set -euo pipefail; $2" > "$logs/$1.log" 2>&1 < /dev/null &
  building[$1]=$!
}
joined() {
  local status=0
  wait "${building[$1]}" || status=$?
  unset "building[$1]"  # gone: its group is not ours to kill at exit any more
  if [ "$status" -ne 0 ]; then
    cat "$logs/$1.log" >&2
    echo "== the $1 build failed (its output above)" >&2
    exit 1
  fi
}
export jobs

# The sanitizer builds: line tables only (-g1; a report still names function, file and line, and a
# file compiles ~10 % faster than with -g), and only what their ctest runs (tests_all,
# tests_<label>: tests/CMakeLists.txt), not the CLI or pytest's peer programs.
# ctest -j: the in-process tests (label unit) run side by side, every other test alone
# (RUN_SERIAL, tests/CMakeLists.txt).
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DSHMBUS_WERROR=ON \
  -DSHMBUS_SANITIZE=address -DSHMBUS_BUILD_BENCH=OFF -DSHMBUS_BUILD_PYTHON=OFF -DSHMBUS_BUILD_EXAMPLES=OFF > /dev/null
ninja -C build-asan -j "$jobs" tests_all

# TSan sees threads, not forked processes, so it runs the unit and thread-race tests. The
# overwrite policy is left out on purpose: its readers copy bytes a writer may be overwriting and
# then validate (a seqlock), a race by design that TSan cannot tell from a bug. So are the JSON
# readers' randomized documents: one thread, no shared state (ASan and the release build run
# them), and half a minute under TSan.
in_background tsan '
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DSHMBUS_WERROR=ON \
  -DSHMBUS_SANITIZE=thread -DSHMBUS_BUILD_BENCH=OFF -DSHMBUS_BUILD_TOOLS=OFF -DSHMBUS_BUILD_PYTHON=OFF \
  -DSHMBUS_BUILD_EXAMPLES=OFF
ninja -C build-tsan -j "$jobs" tests_unit tests_threads'

echo "== ASan + UBSan"
ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build-asan --output-on-failure -j "$jobs"

joined tsan
# libFuzzer on the journal segment scanner (the code that reads whatever is on disk): a small
# build, before the release build starts beside the TSan tests and the 60 s of fuzzing.
cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHMBUS_FUZZ=ON \
  -DSHMBUS_WERROR=ON -DSHMBUS_BUILD_TESTS=OFF -DSHMBUS_BUILD_TOOLS=OFF -DSHMBUS_BUILD_BENCH=OFF \
  -DSHMBUS_BUILD_PYTHON=OFF -DSHMBUS_BUILD_EXAMPLES=OFF > /dev/null
ninja -C build-fuzz -j "$jobs" segment_scan_fuzz

# The release build with link-time optimisation: line tables only here too (-g1, the same code:
# the debug level never changes what GCC generates; a file compiles ~30 % faster than with -g).
in_background release '
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" \
  -DSHMBUS_WERROR=ON
ninja -C build -j "$jobs"'

echo "== ThreadSanitizer"
TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build-tsan --output-on-failure -j "$jobs" -L "unit|threads" \
  -E "ThreadRace.Overwrite|JsonFields.BrokenDocuments|JsonFields.ReaderGives"

echo "== libFuzzer: journal segment scanner, 60 s, ASan + UBSan"
corpus=$(mktemp -d)
build-fuzz/segment_scan_fuzz -max_total_time="${SHMBUS_FUZZ_SECONDS:-60}" -print_final_stats=1 "$corpus" 2>&1 | tail -3
rm -rf "$corpus"

joined release
echo "== Release build"
ctest --test-dir build --output-on-failure -j "$jobs"

echo "== pytest"
SHMBUS_CLI="$PWD/build/tools/cli/shmbus" /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/python
