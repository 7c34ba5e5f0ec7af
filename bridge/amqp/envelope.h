// bridge::amqp: bus headers <-> AMQP basic properties and headers table (docs/bridge.md section 5).
//
//   message-id correlation-id reply-to type content-type content-encoding expiration app-id
//     <-> the property of the same name (dashes for underscores)
//   timestamp (decimal seconds) <-> timestamp      priority (0..255) <-> priority
//   user-id <-> user_id only if it is the bridge's login (RabbitMQ refuses any other with
//     406 and closes the channel); otherwise it travels in the table
//   delivery-mode: outbound 2 (persistent) unless the header says 1; inbound only when not 2
//   every other header <-> a table entry; outbound as a longstr (binary-safe) unless the
//     reserved header x-amqp-kinds ("key=l,key2=F") says which AMQP kind it had inbound
// Inbound, values of other kinds become text (decimal numbers, true/false, timestamps in
// seconds, tables and arrays as JSON) and their kinds go to x-amqp-kinds, so that both round
// trips (bus -> AMQP -> bus and AMQP -> bus -> AMQP) give equal headers. Nested kinds inside
// JSON come back as the JSON kinds (integers as 'l', fractions as 'd').
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bridge/amqp/rabbitmq_c.h"
#include "bridge/origin.h"
#include "bridge/transport.h"

namespace shmbus::bridge::amqp {

inline constexpr std::string_view kKindsHeader = "x-amqp-kinds";
inline constexpr std::string_view kRedeliveredHeader = "x-amqp-redelivered";

// Thread-safety: one thread per encoder. The properties point into the message's headers and
// into the encoder's buffers: valid until the next encode(). Reuses its buffers, so a steady
// stream of messages allocates nothing (a JSON-typed header, rare, does).
class Encoder {
 public:
  Encoder();
  ~Encoder();
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;
  const amqp_basic_properties_t& encode(const OutgoingMessage& message, std::string_view login_user) noexcept;

 private:
  bool set_property(std::string_view key, std::string_view value, std::string_view login_user) noexcept;
  amqp_field_value_t typed(std::string_view value, char kind, bool& ok) noexcept;
  amqp_basic_properties_t props_{};
  std::vector<amqp_table_entry_t> entries_;
  amqp_pool_t pool_{};
};

// Thread-safety: one thread per decoder. The headers point into the decoder: valid until the
// next decode().
class Decoder {
 public:
  // Bus headers of a message; a message-id is derived when the sender set none
  // ("amqp-" + 16 hex digits of a hash of exchange, routing key, properties, headers and body,
  // so that a redelivery has the same id). `redelivered` adds x-amqp-redelivered: true.
  std::span<const Header> decode(const amqp_basic_properties_t& props, amqp_bytes_t body, amqp_bytes_t exchange,
                                 amqp_bytes_t routing_key, bool redelivered);
  // The message-id decode() found or made.
  std::string_view message_id() const noexcept;

 private:
  void add(std::string_view key, std::string_view value);
  void add_field(std::string_view key, const amqp_field_value_t& value);
  struct Range {
    size_t key, key_len, value, value_len;
  };
  std::string arena_;
  std::vector<Range> ranges_;
  std::vector<Header> headers_;
  std::string kinds_;
  size_t message_id_ = SIZE_MAX;  // index into headers_
};

}  // namespace shmbus::bridge::amqp
