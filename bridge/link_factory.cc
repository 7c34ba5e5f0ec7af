// bridge: make_sink / make_source, over rabbitmq-c.
#include "bridge/link_factory.h"

#include "bridge/amqp/factory.h"

namespace shmbus::bridge {

std::unique_ptr<Sink> make_sink(const BridgeConfig& config, const OutboundConfig& link) {
  return amqp::make_sink(config.broker, link);
}

std::unique_ptr<Source> make_source(const BridgeConfig& config, const InboundConfig& link) {
  return amqp::make_source(config.broker, link, config.exchanges);
}

}  // namespace shmbus::bridge
