// An endpoint: a service's named durable queue plus the handlers registered on it.
//   Endpoint inventory(bus, "inventory");
//   inventory.handle<ReserveStock>([](const ReserveStock& m, Context& ctx) { ... });   // a command
//   inventory.handle<OrderPlaced>([](const OrderPlaced& e, Context& ctx) { ... });     // an event
//   inventory.start();  ...  inventory.stop();
// start() declares the queue `inventory`, bound to its command topic commands.inventory and to
// events.<Name> of each event it handles (shmbus/service/topology.h), and starts `concurrency`
// handler threads, each with its own Consumer. A record is dispatched by its `type` header:
//   - no handler for the type, an unknown version, JSON that is not the type: rejected
//     (dead-lettered at once, the reason as x-death-error); the endpoint goes on;
//   - the handler throws: tried again at once `immediate_retries` times, then nacked (the
//     queue's durable backoff); after `max_deliveries` deliveries, or at once for an exception
//     that is never retried (never_retry / retry_on), dead-lettered with the exception's type
//     and text, and Fault<T> published once (and sent to a requester as the answer).
// Before a delivery is handled, a circuit breaker (a kill switch) and a rate limit may hold the
// handler threads back: the messages wait in the queue meanwhile.
// The same endpoint runs in-process on a virtual clock on a TestBus (shmbus/service/test_bus.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "shmbus/bus.h"
#include "shmbus/queue.h"
#include "shmbus/service/codec.h"
#include "shmbus/service/context.h"
#include "shmbus/service/message_type.h"

namespace shmbus::service {

namespace detail {
class EndpointImpl;
}
class TestBus;

// The kill switch (MassTransit's): when most of the endpoint's recent deliveries failed, it
// pauses the endpoint (opens), lets one trial delivery through after a cool-down (half-open),
// and resumes (closes) if that one succeeds, or opens again if it fails. While it is open, no
// handler thread takes a message: they stay in the queue, none is dead-lettered for it.
// A delivery is judged when its handler is done with it: a success (acked) or a failure (it
// threw, or ran over its timeout, with an exception the filters retry, after the immediate
// retries). Rejected messages (unknown, undecodable) and never-retried exceptions are the
// message's fault, not the endpoint's, and are not judged.
struct CircuitBreakerOptions {
  uint32_t window = 0;       // the last `window` judged deliveries count; 0: no breaker
  uint32_t minimum = 10;     // it opens only once this many are in the window (1..window) ...
  double failure_ratio = 0.5;  // ... and this share of them failed (0 < ratio <= 1)
  std::chrono::milliseconds cool_down{30000};  // how long it stays open before the trial
};

// The breaker's state (EndpointStats::breaker).
enum class BreakerState : uint8_t { kClosed, kOpen, kHalfOpen };
const char* to_string(BreakerState state) noexcept;  // "closed", "open", "half-open"

// Deliveries per second over all handler threads of the endpoint in this process (a token
// bucket: `burst` may go at once after a quiet spell). A handler thread over the rate blocks
// until its turn before it receives (or, if another thread took the turn meanwhile, holding the
// one delivery it received). Immediate retries are not counted again: a delivery takes one turn.
struct RateLimitOptions {
  double per_second = 0;  // 0: no limit
  uint32_t burst = 1;     // >= 1
};

struct EndpointOptions {
  uint32_t concurrency = 1;          // handler threads (messages handled at once)
  uint32_t immediate_retries = 0;    // in-process tries again before a durable retry
  uint32_t max_deliveries = 5;       // deliveries before dead-lettering (the queue's, 1..255)
  RetryPolicy retry{};               // backoff between deliveries (the queue's)
  std::chrono::milliseconds lease{30000};  // a handler running longer may see its message redelivered
  ExpiredAction expired = ExpiredAction::kDeadLetter;  // a message past its expires-at
  // Per-key order (the queue's ordering_key): the header whose value is the key, e.g.
  // header_keys::kCorrelationId; "" = none. Within a topic, no two messages of one key are
  // handled at once, and they are handled in order (docs/queues.md, "Per-key order").
  std::string ordering_key{};
  // The topics this endpoint creates (its command topic, the events it handles): a journal
  // with these settings (kind is forced to journal: queues read journals).
  TopicConfig journal{};
  std::chrono::milliseconds idle_wait{20};  // how long an idle handler thread waits per look
  // A handler running longer fails its attempt (HandlerTimeout) when it returns; 0: no limit.
  // A thread cannot be stopped from outside, so long handlers should look at
  // Context::past_deadline() and give up. Must be shorter than the lease.
  std::chrono::milliseconds handler_timeout{0};
  CircuitBreakerOptions breaker{};  // off by default (window 0)
  RateLimitOptions rate_limit{};    // off by default (per_second 0)
};

// What an endpoint did since start() (this process only).
struct EndpointStats {
  uint64_t handled = 0;        // acked after the handler returned
  uint64_t retried = 0;        // immediate retries made
  uint64_t nacked = 0;         // handed back for a durable retry
  uint64_t rejected = 0;       // dead-lettered undecodable or unknown (never reached a handler)
  uint64_t faulted = 0;        // dead-lettered after the last attempt (a Fault published)
  uint64_t replies_dropped = 0;  // replies not sent: the requester's deadline had passed
  BreakerState breaker = BreakerState::kClosed;  // now
  uint64_t breaker_opened = 0;   // times the breaker opened (after a failed trial too)
  uint64_t breaker_closed = 0;   // times a trial succeeded and closed it
  uint64_t released = 0;         // given back uncharged: the breaker opened after they were received
  uint64_t rate_limited = 0;     // times a handler thread waited for the rate limit (bus only)
};

class Endpoint {
 public:
  // `name`: a queue name (topic-name words). Throws Error if it cannot name a queue.
  Endpoint(Bus bus, std::string name, EndpointOptions options = {});
  // The same endpoint on a TestBus: in-process, on its virtual clock, without a bus directory.
  // `concurrency` is ignored there (the TestBus runs one handler at a time, deterministically).
  Endpoint(TestBus& bus, std::string name, EndpointOptions options = {});
  Endpoint(Endpoint&&) noexcept;
  Endpoint& operator=(Endpoint&&) noexcept;
  ~Endpoint();  // stop()

  // Registers the handler of T (an event or a command; a reply is refused: replies go back to
  // the requesting Client). `handler(const T&, Context&)`. Before start() only; one per type.
  template <ServiceMessage T, class F>
  Endpoint& handle(F handler) {
    add_handler(message_type_of<T>(), [handler = std::move(handler)](std::string_view payload, Context& ctx) mutable {
      const T message = decode<T>(payload);
      handler(message, ctx);
    });
    return *this;
  }
  // Where Context::send(command) without an endpoint sends a T.
  template <ServiceMessage T>
  Endpoint& route(std::string endpoint) {
    add_route(message_type_of<T>(), std::move(endpoint));
    return *this;
  }
  // Exception filters. never_retry<E>: an E (or a class derived from it) dead-letters at once.
  // retry_on<E>: once any is named, only those are retried; others dead-letter at once.
  template <class E>
  Endpoint& never_retry() { add_filter(false, [](const std::exception_ptr& e) { return is<E>(e); }); return *this; }
  template <class E>
  Endpoint& retry_on() { add_filter(true, [](const std::exception_ptr& e) { return is<E>(e); }); return *this; }

  // Declares the queue and starts the handler threads. Throws Error if the queue exists with
  // other settings or bindings (the handlers changed): drain it and `shmbus queue rm NAME`.
  void start();
  // Graceful: each thread finishes and settles the message it handles, gives back anything it
  // holds uncharged, and ends; returns once all have. Idempotent.
  void stop();
  bool running() const noexcept;

  const std::string& name() const noexcept;
  Queue queue() const;  // after start(); an endpoint on a TestBus has none (Error)
  EndpointStats stats() const noexcept;

  using Invoker = std::function<void(std::string_view payload, Context& ctx)>;
  void add_handler(const MessageType& type, Invoker invoker);
  void add_route(const MessageType& type, std::string endpoint);
  void add_filter(bool retry, std::function<bool(const std::exception_ptr&)> matches);

 private:
  template <class E>
  static bool is(const std::exception_ptr& e) {
    try {
      std::rethrow_exception(e);
    } catch (const E&) {
      return true;
    } catch (...) {
      return false;
    }
  }
  std::unique_ptr<detail::EndpointImpl> impl_;
};

}  // namespace shmbus::service
