// bridge::amqp: AmqpSource.
#include "bridge/amqp/amqp_source.h"

#include <sys/time.h>

#include <cstring>

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

// A method other than basic.deliver came.
Result<void> AmqpSource::other_method(const amqp_frame_t& frame) noexcept {
  switch (frame.payload.method.id) {
    case AMQP_BASIC_CANCEL_METHOD:
      return fail("the broker cancelled our consumer on queue " + link_.queue + " (queue deleted?); declaring it again");
    case AMQP_CHANNEL_CLOSE_METHOD:
    case AMQP_CONNECTION_CLOSE_METHOD: return fail("broker closed: " + connection_.answer_close(frame));
    default: return Errc::kTimeout;  // e.g. connection.blocked: consumers are not blocked
  }
}

// The next frame. When bytes are already buffered (a burst of deliveries: the usual case) it
// is taken without a deadline, as amqp_consume_message takes a delivery's content: making one
// reads the clock, and those reads were 5 % of the bridge's CPU at 64 B. The broker sends a
// frame in one piece; one left half-read by a read that ended inside it is finished within
// the heartbeat check. Else the wait is bounded by `timeout`.
int AmqpSource::next_frame(amqp_frame_t& frame, std::chrono::milliseconds timeout) noexcept {
  amqp_connection_state_t c = connection_.get();
  if (amqp_frames_enqueued(c) != 0 || amqp_data_in_buffer(c) != 0) return amqp_simple_wait_frame(c, &frame);
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  return amqp_simple_wait_frame_noblock(c, &frame, &tv);
}

// The next frame of the content on `channel` (its header, then its bodies), waited for within
// the rpc timeout when nothing is buffered. Frames of other channels met
// meanwhile (channel 0: connection.blocked) are dropped, a connection.close answered.
int AmqpSource::content_frame(amqp_channel_t channel, amqp_frame_t& frame) noexcept {
  for (;;) {
    const int rc = next_frame(frame, connection_.rpc_timeout());
    if (rc != AMQP_STATUS_OK || frame.channel == channel) return rc;
    if (frame.frame_type == AMQP_FRAME_METHOD && frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
      static_cast<void>(fail("broker closed: " + connection_.answer_close(frame)));
      return AMQP_STATUS_CONNECTION_CLOSED;
    }
  }
}

// Frames read one by one rather than with amqp_consume_message, which copies each delivery
// into an envelope of its own (exchange, routing key and consumer tag duplicated with malloc,
// the properties cloned into a fresh pool, the body copied into a malloc'd buffer) and frees
// it all again: 0.4 us of a 1.4 us message at 64 B (bench/RESULTS.md, issue 14). Here the
// delivery is handed over where rabbitmq-c decoded it, in the channel's pool, which
// amqp_maybe_release_buffers recycles on the next call, once the handler is done with it.
Result<void> AmqpSource::receive(FunctionRef<void(const Delivery&)> handler, std::chrono::milliseconds timeout) noexcept {
  if (!connection_.is_open()) return Errc::kClosed;
  amqp_connection_state_t c = connection_.get();
  amqp_maybe_release_buffers(c);
  // With the deadline once the socket's bytes are used up: an idle queue returns to the caller
  // (acks, stop). While the last read holds more (a burst of deliveries), the next one is taken
  // without a deadline, as its content frames are (next_frame): making one read the clock
  // once a delivery, 2 % of the bridge's CPU at 64 B.
  amqp_frame_t frame;
  int rc = next_frame(frame, timeout);
  if (rc == AMQP_STATUS_TIMEOUT) return Errc::kTimeout;
  if (rc != AMQP_STATUS_OK) return fail(std::string("connection lost: ") + amqp_error_string2(rc));
  if (frame.frame_type != AMQP_FRAME_METHOD) return Errc::kTimeout;  // a stray content frame: not ours to read
  if (frame.payload.method.id != AMQP_BASIC_DELIVER_METHOD) return other_method(frame);
  const auto& deliver = *static_cast<const amqp_basic_deliver_t*>(frame.payload.method.decoded);
  const amqp_channel_t channel = frame.channel;

  rc = content_frame(channel, frame);
  if (!connection_.is_open()) return Errc::kClosed;
  if (rc != AMQP_STATUS_OK) return fail(std::string("connection lost in a delivery: ") + amqp_error_string2(rc));
  if (frame.frame_type != AMQP_FRAME_HEADER) return fail("the broker sent a delivery without its content header");
  const auto& properties = *static_cast<const amqp_basic_properties_t*>(frame.payload.properties.decoded);
  const uint64_t size = frame.payload.properties.body_size;
  amqp_bytes_t body = amqp_empty_bytes;
  for (uint64_t got = 0; got < size;) {
    rc = content_frame(channel, frame);
    if (!connection_.is_open()) return Errc::kClosed;
    if (rc != AMQP_STATUS_OK) return fail(std::string("connection lost in a delivery: ") + amqp_error_string2(rc));
    if (frame.frame_type != AMQP_FRAME_BODY || got + frame.payload.body_fragment.len > size) {
      return fail("the broker sent a delivery whose body frames do not add up to its size");
    }
    const amqp_bytes_t fragment = frame.payload.body_fragment;
    if (got == 0 && fragment.len == size) {
      body = fragment;  // the usual case, one frame: used where it lies
    } else {
      if (got == 0) {
        try {
          body_.resize(size);
        } catch (const std::exception&) {
          return fail("no memory for a message body of " + std::to_string(size) + " bytes");
        }
      }
      std::memcpy(body_.data() + got, fragment.bytes, fragment.len);
      body = as_bytes(body_);
    }
    got += fragment.len;
  }
  const bool redelivered = deliver.redelivered != 0;
  const std::span<const Header> headers = decoder_.decode(properties, body, deliver.exchange, deliver.routing_key, redelivered);
  handler(Delivery{deliver.delivery_tag, redelivered, as_view(deliver.routing_key), headers,
                   std::span(static_cast<const std::byte*>(body.bytes), body.len)});
  return {};
}

Result<void> AmqpSource::ack(uint64_t tag) noexcept {
  if (!connection_.is_open()) return Errc::kClosed;
  const int rc = amqp_basic_ack(connection_.get(), 1, tag, /*multiple*/ 1);
  if (rc != AMQP_STATUS_OK) return fail(std::string("ack: ") + amqp_error_string2(rc));
  return {};
}

}  // namespace shmbus::bridge::amqp
