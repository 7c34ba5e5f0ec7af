// The test harness (MassTransit's InMemoryTestHarness, NServiceBus.Testing): the service API
// in-process on a virtual clock, without a bus directory. Endpoints are the real Endpoint class
// with the real pipeline (kinds, decoding, immediate and delayed retries, exception filters,
// handler timeout, circuit breaker, rate limit, dead letters, Fault<T>); only the queues are in
// memory and the clocks virtual:
//   TestBus bus;
//   Endpoint inventory(bus, "inventory", {.max_deliveries = 3});
//   inventory.handle<ReserveStock>(...);           // the same handlers as in production
//   inventory.start();
//   bus.send(ReserveStock{42, 1}, "inventory");    // handled before send() returns
//   bus.advance(30s);                              // retries, schedules, timeouts, cool-downs fire
//   EXPECT_EQ(bus.published_of<StockReserved>().size(), 1u);
// Code that takes a Client& gets a Client(test_bus, options) with the same verbs on it.
// Deterministic: one handler runs at a time, on the caller's thread, in the order messages
// became due; retry jitter comes from `seed`. Virtual time moves only by advance(): a handler
// that calls advance(d) "takes" d (its timeout can fire), and what falls due meanwhile runs
// after it returns. Thread-safety: one thread at a time (the test's).
#pragma once

#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shmbus/service/client.h"
#include "shmbus/service/codec.h"
#include "shmbus/service/envelope.h"
#include "shmbus/service/message_type.h"

namespace shmbus::service {

class TestBus;
namespace detail {
class MemoryBus;
class EndpointHost;
class MemoryClient;
std::unique_ptr<EndpointHost> test_host(TestBus& bus);
std::unique_ptr<MemoryClient> test_client(TestBus& bus, const ClientOptions& options);
}  // namespace detail

struct TestBusOptions {
  // The virtual wall clock at the start (sent-time, expires-at, not-before); {}: the real now,
  // in whole milliseconds (the precision of the envelope's times).
  std::chrono::system_clock::time_point start{};
  uint64_t seed = 1;            // the retries' jitter
  std::string source = "test";  // the `source` of what the TestBus itself sends
};

// One message as the TestBus saw it published (by a handler, or by the TestBus's verbs).
struct Recorded {
  std::string topic;  // events.<Name>, commands.<endpoint>, the TestBus's reply topic
  Envelope envelope;
  std::string payload;  // JSON
  std::chrono::nanoseconds at{};  // virtual time since the TestBus started

  template <ServiceMessage T>
  bool is() const { return envelope.type == message_type_of<T>().type_header(); }
  template <ServiceMessage T>
  T as() const { return decode<T>(payload); }
};

// What became of one delivery to an endpoint.
enum class Settled : uint8_t {
  kAcked,         // handled
  kRetried,       // failed; delivered again after the backoff
  kDeadLettered,  // failed its last attempt (delivery_limit)
  kRejected,      // dead-lettered at once: unknown, undecodable, a never-retried exception
  kExpired,       // its expires-at had passed (dead-lettered or dropped, by the queue's setting)
};
const char* to_string(Settled s) noexcept;

struct Consumed {
  std::string endpoint;
  Recorded message;
  uint32_t attempt = 0;  // the delivery (1 = first)
  Settled settled = Settled::kAcked;
  std::string error;  // x-death-error style: "std::runtime_error: card declined"
  std::chrono::nanoseconds at{};
};

struct DeadLetter {
  std::string endpoint;
  Recorded message;    // the original (its topic and envelope)
  std::string reason;  // rejected, delivery_limit, expired
  std::string error;
  std::chrono::nanoseconds at{};
};

class TestBus {
 public:
  explicit TestBus(TestBusOptions options = {});
  TestBus(TestBus&&) noexcept;
  TestBus& operator=(TestBus&&) noexcept;
  ~TestBus();  // fails requests still waiting (kClosed)

  // The virtual clocks. advance() moves them, running everything that falls due on the way, in
  // time order: delayed redeliveries, scheduled commands, request timeouts, breaker cool-downs,
  // rate-limited deliveries.
  void advance(std::chrono::nanoseconds d);
  std::chrono::nanoseconds elapsed() const noexcept;
  std::chrono::steady_clock::time_point now() const noexcept;
  std::chrono::system_clock::time_point wall() const noexcept;

  // The verbs of a Client (each starts a flow, with TestBusOptions::source), handled before
  // they return. A Client(test_bus, options) has the same, with its own source and routes.
  template <ServiceMessage T>
  std::string publish(const T& event) { return publish_json(message_type_of<T>(), encode(event)); }
  template <ServiceMessage T>
  std::string send(const T& command, std::string_view endpoint) {
    return send_json(message_type_of<T>(), encode(command), endpoint, {});
  }
  template <ServiceMessage T>
  std::string send(const T& command) { return send(command, std::string_view{}); }
  template <ServiceMessage T>
  std::string schedule(const T& command, std::string_view endpoint, std::chrono::system_clock::time_point at) {
    return send_json(message_type_of<T>(), encode(command), endpoint, at);
  }
  template <ServiceMessage T>
  std::string schedule(const T& command, std::string_view endpoint, std::chrono::nanoseconds delay) {
    return schedule(command, endpoint, wall() + std::chrono::duration_cast<std::chrono::system_clock::duration>(delay));
  }
  uint64_t cancel_scheduled(std::string_view endpoint, std::string_view message_id);
  // The future is ready once the reply came (within send's handling, or an advance()), or the
  // timeout passed on the virtual clock (kTimeout); check with wait_for(0s) before get().
  template <ServiceMessage Req, ServiceMessage Rep>
  std::future<Rep> request(const Req& command, std::string_view endpoint, std::chrono::nanoseconds timeout) {
    auto promise = std::make_shared<std::promise<Rep>>();
    std::future<Rep> future = promise->get_future();
    request_json(message_type_of<Req>(), encode(command), endpoint, timeout, message_type_of<Rep>(),
                 detail::reply_completer(std::move(promise)));
    return future;
  }
  template <ServiceMessage T>
  TestBus& route(std::string endpoint) {
    add_route(message_type_of<T>(), std::move(endpoint));
    return *this;
  }

  // What went by, in order. messages(): everything published; published(): events (Faults
  // too); sent(): commands; replies(): replies (and Faults sent back to requesters).
  std::vector<Recorded> messages() const;
  std::vector<Recorded> published() const;
  std::vector<Recorded> sent() const;
  std::vector<Recorded> replies() const;
  template <ServiceMessage T>
  std::vector<Recorded> messages_of() const { return messages_of_type(message_type_of<T>().type_header()); }
  template <ServiceMessage T>
  std::vector<T> published_of() const {
    std::vector<T> out;
    for (const Recorded& r : messages_of<T>()) out.push_back(r.as<T>());
    return out;
  }
  // Every delivery and how it was settled ("" : all endpoints).
  std::vector<Consumed> consumed(std::string_view endpoint = {}) const;
  std::vector<DeadLetter> dead_letters(std::string_view endpoint = {}) const;
  size_t pending_requests() const;
  // Messages of `endpoint`'s queue not settled yet (ready, waiting for a retry or scheduled).
  size_t queued(std::string_view endpoint) const;

  // The non-template core of the verbs above.
  std::string publish_json(const MessageType& type, std::string json);
  std::string send_json(const MessageType& type, std::string json, std::string_view endpoint,
                        std::optional<std::chrono::system_clock::time_point> not_before);
  void request_json(const MessageType& type, std::string json, std::string_view endpoint,
                    std::chrono::nanoseconds timeout, const MessageType& reply_type, Client::ReplyCallback done);
  void add_route(const MessageType& type, std::string endpoint);
  std::vector<Recorded> messages_of_type(std::string_view type_header) const;

 private:
  friend std::unique_ptr<detail::EndpointHost> detail::test_host(TestBus& bus);
  friend std::unique_ptr<detail::MemoryClient> detail::test_client(TestBus& bus, const ClientOptions& options);
  std::shared_ptr<detail::MemoryBus> state_;  // shared with its endpoints: either may go first
};

}  // namespace shmbus::service
