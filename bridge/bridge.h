// bridge: `shmbus bridge --config bridge.toml`: takes the config's lock, runs one thread per
// link, rewrites the status file every second, and stops when `stop_requested()` says so
// (SIGTERM), leaving every cursor where the confirms left it.
#pragma once

#include <functional>
#include <string>

#include "bridge/config.h"

namespace shmbus::bridge {

// Runs until stop_requested() returns true (checked every 100 ms). `bus` names the bus when
// the config has no [bus] name. Throws Error on set-up failures (lock held, bus not openable).
void run_bridge(const BridgeConfig& config, const std::string& bus, const std::function<bool()>& stop_requested);

}  // namespace shmbus::bridge
