// bridge: the status file `shmbus bridge status` reads: JSON, rewritten every second by the
// running bridge (write to a temporary file, then rename, so a reader never sees half of it).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bridge/config.h"
#include "bridge/link_status.h"

namespace shmbus::bridge {

void write_status(const BridgeConfig& config, const std::vector<std::unique_ptr<LinkStatus>>& links, bool running);

// `shmbus bridge status`: the table (or the JSON, with "running" set from the lock file: a
// bridge that died by kill -9 leaves its last status behind, and is shown as not running).
// Throws Error if the bridge never ran with this config.
std::string read_status(const BridgeConfig& config, bool json);

}  // namespace shmbus::bridge
