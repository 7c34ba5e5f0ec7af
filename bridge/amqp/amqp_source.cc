// bridge::amqp: AmqpSource.
#include "bridge/amqp/amqp_source.h"

#include <sys/time.h>

#include "bridge/amqp/topology.h"

namespace shmbus::bridge::amqp {

AmqpSource::AmqpSource(const BrokerConfig& broker, const InboundConfig& link, const std::vector<ExchangeConfig>& exchanges)
    : link_(link), exchanges_(exchanges), connection_(broker, "shmbus-bridge " + link.name) {}

void AmqpSource::open() {
  connection_.open();
  // Exchanges of [[exchange]] that our bindings name: declared (or checked) before binding.
  for (const BindingConfig& b : link_.bindings) {
    for (const ExchangeConfig& x : exchanges_) {
      if (x.name == b.exchange) declare_exchange(connection_, x);
    }
  }
  declare_queue(connection_, link_);
  for (const BindingConfig& b : link_.bindings) bind_queue(connection_, link_.queue, b);
  amqp_basic_qos(connection_.get(), 1, 0, static_cast<uint16_t>(link_.prefetch), 0);
  connection_.check("basic.qos prefetch " + std::to_string(link_.prefetch));
  amqp_basic_consume(connection_.get(), 1, as_bytes(link_.queue), amqp_empty_bytes, 0, /*no_ack*/ 0, 0, amqp_empty_table);
  connection_.check("consume from queue " + link_.queue);
}

void AmqpSource::close() noexcept { connection_.close(); }

Result<void> AmqpSource::fail(std::string text) noexcept {
  error_ = std::move(text);
  connection_.mark_broken();
  return Errc::kClosed;
}

// Something other than a delivery came (amqp_consume_message said AMQP_STATUS_UNEXPECTED_STATE).
Result<void> AmqpSource::other_frame() noexcept {
  amqp_frame_t frame;
  timeval tv{1, 0};
  const int rc = amqp_simple_wait_frame_noblock(connection_.get(), &frame, &tv);
  if (rc == AMQP_STATUS_TIMEOUT) return Errc::kTimeout;
  if (rc != AMQP_STATUS_OK) return fail(std::string("connection lost: ") + amqp_error_string2(rc));
  if (frame.frame_type != AMQP_FRAME_METHOD) return Errc::kTimeout;
  switch (frame.payload.method.id) {
    case AMQP_BASIC_CANCEL_METHOD:
      return fail("the broker cancelled our consumer on queue " + link_.queue + " (queue deleted?); declaring it again");
    case AMQP_CHANNEL_CLOSE_METHOD:
    case AMQP_CONNECTION_CLOSE_METHOD: return fail("broker closed: " + connection_.answer_close(frame));
    default: return Errc::kTimeout;  // e.g. connection.blocked: consumers are not blocked
  }
}

Result<void> AmqpSource::receive(FunctionRef<void(const Delivery&)> handler, std::chrono::milliseconds timeout) noexcept {
  if (!connection_.is_open()) return Errc::kClosed;
  amqp_maybe_release_buffers(connection_.get());
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  amqp_envelope_t envelope;
  const amqp_rpc_reply_t r = amqp_consume_message(connection_.get(), &envelope, &tv, 0);
  if (r.reply_type == AMQP_RESPONSE_NORMAL) {
    const std::span<const Header> headers = decoder_.decode(envelope.message.properties, envelope.message.body,
                                                            envelope.exchange, envelope.routing_key, envelope.redelivered != 0);
    handler(Delivery{envelope.delivery_tag, envelope.redelivered != 0, as_view(envelope.routing_key), headers,
                     std::span(static_cast<const std::byte*>(envelope.message.body.bytes), envelope.message.body.len)});
    amqp_destroy_envelope(&envelope);
    return {};
  }
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
    if (r.library_error == AMQP_STATUS_TIMEOUT) return Errc::kTimeout;
    if (r.library_error == AMQP_STATUS_UNEXPECTED_STATE) return other_frame();
    return fail(std::string("connection lost: ") + amqp_error_string2(r.library_error));
  }
  return fail("consume failed");
}

Result<void> AmqpSource::ack(uint64_t tag) noexcept {
  if (!connection_.is_open()) return Errc::kClosed;
  const int rc = amqp_basic_ack(connection_.get(), 1, tag, /*multiple*/ 1);
  if (rc != AMQP_STATUS_OK) return fail(std::string("ack: ") + amqp_error_string2(rc));
  return {};
}

}  // namespace shmbus::bridge::amqp
