#!/usr/bin/env bash
# Live demo: 3 publisher processes and 3 subscriber processes (one per pattern kind) on one bus
# for about 10 seconds, each subscriber printing its rate and latency once a second.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh
cmake -S . -B build-demo -G Ninja -DCMAKE_BUILD_TYPE=Release -DSHMBUS_KILL_POINTS=OFF \
  -DSHMBUS_BUILD_TESTS=OFF -DSHMBUS_BUILD_BENCH=OFF > /dev/null
ninja -C build-demo
bin=build-demo/tools/cli
bus=/dev/shm/shmbus-demo-$$
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$bus"' EXIT
seconds=${DEMO_SECONDS:-10}

$bin/shmbus --bus "$bus" topic create orders.eu.created --capacity 4194304 --policy block
$bin/shmbus --bus "$bus" topic create orders.us.created --capacity 4194304 --policy block
$bin/shmbus --bus "$bus" topic create metrics.cpu --capacity 1048576 --policy overwrite

$bin/demo_node sub "$bus" 'orders.#' "$seconds" all-orders &
$bin/demo_node sub "$bus" 'orders.eu.created' "$seconds" eu-only &
$bin/demo_node sub "$bus" '#' "$seconds" everything &
sleep 0.3
$bin/demo_node pub "$bus" orders.eu.created "$((seconds - 1))" &
$bin/demo_node pub "$bus" orders.us.created "$((seconds - 1))" &
$bin/demo_node pub "$bus" metrics.cpu "$((seconds - 1))" &
wait
echo
$bin/shmbus --bus "$bus" ls
