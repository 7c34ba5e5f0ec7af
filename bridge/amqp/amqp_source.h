// bridge::amqp: the inbound Source on rabbitmq-c: basic.qos prefetch, basic.consume with manual
// acks, deliveries decoded into bus headers (docs/bridge.md section 2, "Inbound").
#pragma once

#include <string>
#include <vector>

#include "bridge/amqp/connection.h"
#include "bridge/amqp/envelope.h"
#include "bridge/config.h"
#include "bridge/transport.h"

namespace shmbus::bridge::amqp {

class AmqpSource final : public Source {
 public:
  AmqpSource(const BrokerConfig& broker, const InboundConfig& link, const std::vector<ExchangeConfig>& exchanges);
  void open() override;
  void close() noexcept override;
  Result<void> receive(FunctionRef<void(const Delivery&)> handler, std::chrono::milliseconds timeout) noexcept override;
  Result<void> ack(uint64_t tag) noexcept override;
  const std::string& last_error() const noexcept override { return error_; }

 private:
  Result<void> fail(std::string text) noexcept;
  Result<void> other_method(const amqp_frame_t& frame) noexcept;
  int next_frame(amqp_frame_t& frame, std::chrono::milliseconds timeout) noexcept;
  int content_frame(amqp_channel_t channel, amqp_frame_t& frame) noexcept;
  const InboundConfig& link_;
  const std::vector<ExchangeConfig>& exchanges_;
  Connection connection_;
  Decoder decoder_;
  std::string body_;  // a body that came in more than one frame, joined (grows to the largest)
  std::string error_;
};

}  // namespace shmbus::bridge::amqp
