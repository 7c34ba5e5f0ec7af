// bridge: the Sink or Source of a link. The one file that knows which broker client there is
// (bridge/amqp/ today; MQTT would be chosen here by the URL's scheme).
#pragma once

#include <memory>

#include "bridge/config.h"
#include "bridge/transport.h"

namespace shmbus::bridge {

std::unique_ptr<Sink> make_sink(const BridgeConfig& config, const OutboundConfig& link);
std::unique_ptr<Source> make_source(const BridgeConfig& config, const InboundConfig& link);

}  // namespace shmbus::bridge
