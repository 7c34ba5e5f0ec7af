// bridge: what a link needs from a broker, in bus terms (headers, payloads, sequence numbers),
// so that nothing outside bridge/amqp/ knows AMQP (and MQTT can plug in behind the same two).
//   Sink:   publish with confirms (outbound).   Source: deliveries with acks (inbound).
// Thread-safety: one thread per Sink / Source (rabbitmq-c cannot share a connection).
// open() is the set-up path: it throws TransportError. The rest is the data path: noexcept,
// errors as Errc; after kClosed the connection is gone (last_error() says why): close() and
// open() again.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include "shmbus/error.h"
#include "shmbus/function_ref.h"
#include "shmbus/headers.h"

namespace shmbus::bridge {

// Why open() failed, which decides how soon to try again.
enum class FailureKind : uint8_t {
  kTransient,  // broker absent or going away: back off from the initial delay
  kConfig,     // refused: login, vhost, a declaration. Retried at the longest delay only
};

class TransportError : public std::runtime_error {
 public:
  TransportError(const std::string& what, FailureKind kind) : std::runtime_error(what), kind_(kind) {}
  FailureKind kind() const noexcept { return kind_; }

 private:
  FailureKind kind_;
};

// One record going out: its bus headers become properties and headers (docs/bridge.md section 5).
struct OutgoingMessage {
  std::string_view routing_key;
  HeadersView headers;
  std::string_view message_id;  // used when the headers carry no message-id
  std::span<const std::byte> payload;
  std::string_view origin;      // sent as the x-shmbus-origin header ("": none)
};

// A message the broker gave back (mandatory, unroutable): as an incoming message would read.
struct ReturnedMessage {
  std::string_view message_id;
  std::string_view reason;  // "312 NO_ROUTE exchange=orders routing_key=orders.eu"
  std::span<const Header> headers;
  std::span<const std::byte> payload;
};

// What Sink::poll() reports, in the order the broker sent it (a return before its confirm).
class SinkEvents {
 public:
  // Publishes up to and including `seq` (multiple) or `seq` alone are confirmed (or rejected:
  // the broker could not take them).
  virtual void confirmed(uint64_t seq, bool multiple) noexcept = 0;
  virtual void rejected(uint64_t seq, bool multiple) noexcept = 0;
  virtual void returned(const ReturnedMessage& message) noexcept = 0;

 protected:
  ~SinkEvents() = default;
};

class Sink {
 public:
  virtual ~Sink() = default;
  // Connects, logs in, declares (or checks) the exchange, turns confirms on. Throws TransportError.
  virtual void open() = 0;
  virtual void close() noexcept = 0;
  // Sends one message; returns its sequence number (1, 2, 3, ... per open()).
  virtual Result<uint64_t> publish(const OutgoingMessage& message) noexcept = 0;
  // Hands what the broker sent to `events`, waiting up to `timeout` for the first of it
  // (kTimeout: nothing came). Keeps the heartbeats going: call it at least every second.
  virtual Result<void> poll(SinkEvents& events, std::chrono::milliseconds timeout) noexcept = 0;
  // The broker asked us to stop publishing (a resource alarm: connection.blocked).
  virtual bool blocked() const noexcept = 0;
  virtual const std::string& last_error() const noexcept = 0;
};

struct Delivery {
  uint64_t tag = 0;          // ack(tag) settles it and every earlier one
  bool redelivered = false;  // the broker delivered it before (to us or another consumer)
  std::string_view routing_key;     // as published
  std::span<const Header> headers;  // message-id always present (derived if the sender gave none)
  std::span<const std::byte> payload;
};

class Source {
 public:
  virtual ~Source() = default;
  // Connects, declares (or checks) the queue and its bindings, sets the prefetch, consumes.
  virtual void open() = 0;
  virtual void close() noexcept = 0;
  // Hands the next delivery to `handler` (its views valid during the call), waiting up to
  // `timeout` (kTimeout: none came).
  virtual Result<void> receive(FunctionRef<void(const Delivery&)> handler, std::chrono::milliseconds timeout) noexcept = 0;
  // Acknowledges `tag` and every delivery before it.
  virtual Result<void> ack(uint64_t tag) noexcept = 0;
  virtual const std::string& last_error() const noexcept = 0;
};

}  // namespace shmbus::bridge
