// bridge::amqp: make_sink / make_source.
#include "bridge/amqp/factory.h"

#include "bridge/amqp/amqp_sink.h"
#include "bridge/amqp/amqp_source.h"

namespace shmbus::bridge::amqp {

std::unique_ptr<Sink> make_sink(const BrokerConfig& broker, const OutboundConfig& link) {
  return std::make_unique<AmqpSink>(broker, link);
}

std::unique_ptr<Source> make_source(const BrokerConfig& broker, const InboundConfig& link,
                                    const std::vector<ExchangeConfig>& exchanges) {
  return std::make_unique<AmqpSource>(broker, link, exchanges);
}

}  // namespace shmbus::bridge::amqp
