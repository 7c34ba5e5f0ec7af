// bridge::amqp: AmqpSink. The broker numbers a confirm channel's publishes 1, 2, 3, ... and we
// count in step (no id travels with a publish); basic.return comes before its basic.ack.
#include "bridge/amqp/amqp_sink.h"

#include <sys/time.h>

#include "bridge/amqp/topology.h"

namespace shmbus::bridge::amqp {

AmqpSink::AmqpSink(const BrokerConfig& broker, const OutboundConfig& link)
    : link_(link), connection_(broker, "shmbus-bridge " + link.name) {}

void AmqpSink::open() {
  blocked_ = false;
  next_seq_ = 1;
  connection_.open();
  declare_exchange(connection_, link_.exchange);
  amqp_confirm_select(connection_.get(), 1);
  connection_.check("confirm.select");
}

void AmqpSink::close() noexcept { connection_.close(); }

Result<void> AmqpSink::fail(std::string text) noexcept {
  error_ = std::move(text);
  connection_.mark_broken();
  return Errc::kClosed;
}

Result<uint64_t> AmqpSink::publish(const OutgoingMessage& m) noexcept {
  if (!connection_.is_open()) return Errc::kClosed;
  const amqp_basic_properties_t& props = encoder_.encode(m, connection_.user());
  const amqp_bytes_t body{m.payload.size(), const_cast<std::byte*>(m.payload.data())};
  const int rc = amqp_basic_publish(connection_.get(), 1, as_bytes(link_.exchange.name), as_bytes(m.routing_key),
                                    /*mandatory*/ 1, /*immediate*/ 0, &props, body);
  if (rc != AMQP_STATUS_OK) {
    static_cast<void>(fail(std::string("publish: ") + amqp_error_string2(rc)));
    return Errc::kClosed;
  }
  return next_seq_++;
}

void AmqpSink::on_return(SinkEvents& events, const amqp_frame_t& frame) noexcept {
  const auto* r = static_cast<const amqp_basic_return_t*>(frame.payload.method.decoded);
  reason_ = std::to_string(r->reply_code) + " " + std::string(as_view(r->reply_text)) +
            " exchange=" + std::string(as_view(r->exchange)) + " routing_key=" + std::string(as_view(r->routing_key));
  const std::string routing_key(as_view(r->routing_key));
  const std::string exchange(as_view(r->exchange));
  amqp_message_t message;
  const amqp_rpc_reply_t reply = amqp_read_message(connection_.get(), frame.channel, &message, 0);
  if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
    static_cast<void>(fail("reading a returned message failed: " + std::string(amqp_error_string2(reply.library_error))));
    return;
  }
  const std::span<const Header> headers = decoder_.decode(message.properties, message.body, as_bytes(exchange),
                                                          as_bytes(routing_key), false);
  events.returned({decoder_.message_id(), reason_, headers,
                   std::span(static_cast<const std::byte*>(message.body.bytes), message.body.len)});
  amqp_destroy_message(&message);
}

Result<void> AmqpSink::poll(SinkEvents& events, std::chrono::milliseconds timeout) noexcept {
  if (!connection_.is_open()) return Errc::kClosed;
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  bool any = false;
  for (;;) {
    amqp_frame_t frame;
    const int rc = amqp_simple_wait_frame_noblock(connection_.get(), &frame, &tv);
    if (rc == AMQP_STATUS_TIMEOUT) {
      // Nothing pending: the frame pools can be given back (or they grow with every frame).
      amqp_maybe_release_buffers(connection_.get());
      if (any) return {};
      return Errc::kTimeout;
    }
    if (rc != AMQP_STATUS_OK) return fail(std::string("connection lost: ") + amqp_error_string2(rc));
    tv = {0, 0};  // the rest only if it is there already
    any = true;
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    switch (frame.payload.method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        const auto* ack = static_cast<const amqp_basic_ack_t*>(frame.payload.method.decoded);
        events.confirmed(ack->delivery_tag, ack->multiple != 0);
        break;
      }
      case AMQP_BASIC_NACK_METHOD: {
        const auto* nack = static_cast<const amqp_basic_nack_t*>(frame.payload.method.decoded);
        events.rejected(nack->delivery_tag, nack->multiple != 0);
        break;
      }
      case AMQP_BASIC_RETURN_METHOD:
        on_return(events, frame);
        if (!connection_.is_open()) return Errc::kClosed;
        break;
      case AMQP_CONNECTION_BLOCKED_METHOD: {
        const auto* b = static_cast<const amqp_connection_blocked_t*>(frame.payload.method.decoded);
        blocked_ = true;
        error_ = "broker blocked publishing: " + std::string(as_view(b->reason));
        break;
      }
      case AMQP_CONNECTION_UNBLOCKED_METHOD: blocked_ = false; break;
      case AMQP_CHANNEL_CLOSE_METHOD:
      case AMQP_CONNECTION_CLOSE_METHOD: return fail("broker closed: " + connection_.answer_close(frame));
      default: break;
    }
  }
}

}  // namespace shmbus::bridge::amqp
