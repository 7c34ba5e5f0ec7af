// bridge::amqp: the outbound Sink on rabbitmq-c: confirm mode, mandatory persistent publishes,
// frames read without blocking between publishes (docs/bridge.md section 2, "Outbound").
#pragma once

#include <memory>
#include <string>

#include "bridge/amqp/connection.h"
#include "bridge/amqp/envelope.h"
#include "bridge/config.h"
#include "bridge/transport.h"

namespace shmbus::bridge::amqp {

class AmqpSink final : public Sink {
 public:
  AmqpSink(const BrokerConfig& broker, const OutboundConfig& link);
  void open() override;
  void close() noexcept override;
  Result<uint64_t> publish(const OutgoingMessage& message) noexcept override;
  Result<void> poll(SinkEvents& events, std::chrono::milliseconds timeout) noexcept override;
  bool blocked() const noexcept override { return blocked_; }
  const std::string& last_error() const noexcept override { return error_; }

 private:
  Result<void> fail(std::string text) noexcept;
  void on_return(SinkEvents& events, const amqp_frame_t& frame) noexcept;
  const OutboundConfig& link_;
  Connection connection_;
  Encoder encoder_;
  Decoder decoder_;
  std::string reason_;
  uint64_t next_seq_ = 1;
  bool blocked_ = false;
  std::string error_;
};

}  // namespace shmbus::bridge::amqp
