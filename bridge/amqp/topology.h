// bridge::amqp: declaring (or, passive, checking) exchanges, queues and bindings from the config.
// Each is a synchronous call; a refusal (406 inequivalent arguments, 404 missing on a passive
// check) closes the channel and is thrown as a kConfig TransportError naming the entity.
#pragma once

#include "bridge/amqp/connection.h"
#include "bridge/config.h"

namespace shmbus::bridge::amqp {

void declare_exchange(Connection& c, const ExchangeConfig& exchange);
void declare_queue(Connection& c, const InboundConfig& in);
void bind_queue(Connection& c, const std::string& queue, const BindingConfig& binding);

}  // namespace shmbus::bridge::amqp
