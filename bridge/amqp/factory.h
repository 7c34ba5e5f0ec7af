// bridge::amqp: the Sink and Source of a link, made for its config. The one entry to this folder.
#pragma once

#include <memory>
#include <vector>

#include "bridge/config.h"
#include "bridge/transport.h"

namespace shmbus::bridge::amqp {

std::unique_ptr<Sink> make_sink(const BrokerConfig& broker, const OutboundConfig& link);
std::unique_ptr<Source> make_source(const BrokerConfig& broker, const InboundConfig& link,
                                    const std::vector<ExchangeConfig>& exchanges);

}  // namespace shmbus::bridge::amqp
