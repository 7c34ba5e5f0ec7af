#!/usr/bin/env bash
# Installs the Debian packages shmbus builds and tests with, and any named on the command line
# (tools/bench.sh adds the peers'), if any is missing.
set -euo pipefail
packages=(cmake ninja-build g++ libboost-dev libgtest-dev libbenchmark-dev libcli11-dev libtomlplusplus-dev nlohmann-json3-dev
          python3-dev pybind11-dev python3-pytest python3-pip python3-setuptools python3-zmq
          clang libclang-rt-14-dev libisal-dev
          rabbitmq-server librabbitmq-dev python3-pika  # the bridge: broker, rabbitmq-c, an independent client
          libsqlite3-dev libpqxx-dev postgresql  # the outbox and inbox stores; a private PostgreSQL for their tests
          libcpp-httplib-dev "$@")  # the EvenTicket example's HTTP API (examples/eventicket)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" < /dev/null
fi
