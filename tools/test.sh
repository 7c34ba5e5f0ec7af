#!/usr/bin/env bash
# Installs what is missing, builds with -Werror, runs every test through ctest; then the unit
# and multi-process suites again under ASan + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh
jobs=$(nproc)

cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSHMBUS_WERROR=ON -DSHMBUS_SANITIZE=address \
  -DSHMBUS_BUILD_BENCH=OFF > /dev/null
ninja -C build-asan -j "$jobs"
echo "== ASan + UBSan"
ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build-asan --output-on-failure -j 1

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHMBUS_WERROR=ON > /dev/null
ninja -C build -j "$jobs"
echo "== Release build"
ctest --test-dir build --output-on-failure -j 1
