// The handler pipeline of one handler thread (or of a TestBus's endpoint), the same code on the
// bus and on a TestBus. Its driver (bus_host.cc, test_bus_state.cc) receives a delivery and:
//   0. admits it: the circuit breaker (pass(): kNo gives it back uncharged) and the rate limit
//      (rate_wait(): a time to wait until, holding it);
//   1. find the handler by the `type` header        (none: reject, reason "unknown type/version")
//   2. decode and call it, with immediate retries    (DecodeError: reject, reason "undecodable")
//   3. it returned: send what it sent, then ack       (its messages go only after it succeeded)
//   4. it threw: retry later (nack) while attempts and the filters allow; else dead-letter the
//      record (nack at the last attempt: delivery_limit; a never-retried exception: reject),
//      and once that settled, publish Fault<T> (and answer a requester with it);
//   5. tell the breaker how it went.
#pragma once

#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "endpoint_impl.h"
#include "failure.h"
#include "sender.h"
#include "transport.h"

namespace shmbus::service::detail {

// Thread-safety: one thread at a time (each handler thread has its own).
class Pipeline {
 public:
  Pipeline(EndpointImpl& e, Outbox& outbox)
      : e_(e), outbox_(outbox), counters_(e.counters.stripe()), gated_(e.breaker.enabled() || e.rate.enabled()) {}

  // Has a breaker or a rate limit: without, admission is skipped (no clock read on the way).
  bool gated() const noexcept { return gated_; }

  // When the next delivery may be taken (the breaker's and the rate limit's; <= now: at once).
  TimePoint ready_at(TimePoint now) const noexcept;
  // The breaker's word on a received delivery (kNo: give it back uncharged, count_released()).
  CircuitBreaker::Pass pass(TimePoint now) noexcept { return e_.breaker.admit(now); }
  // The rate limit's turn for it: nullopt, or when to try again (a wait counted on first_try).
  std::optional<TimePoint> rate_wait(TimePoint now, bool first_try) noexcept;
  // The driver waits before receiving, as ready_at said: counted if the rate limit is why.
  void note_wait(TimePoint now) noexcept;
  // A delivery given back without being handled (stopping, or the breaker opened).
  void gave_back(CircuitBreaker::Pass pass) noexcept;

  // Steps 1-5. Throws only if publishing a Fault fails (the driver gives the delivery back).
  void handle(const Message& m, uint32_t attempt, Settlement& s, CircuitBreaker::Pass pass);

 private:
  using Verdict = CircuitBreaker::Verdict;
  Verdict run(const Message& m, uint32_t attempt, Settlement& s);
  [[noreturn]] void throw_timeout(const EnvelopeView& env, std::chrono::nanoseconds took) const;
  Verdict reject_unhandled(Settlement& s, const std::string& reason);
  void send_outgoing(const EnvelopeView& handled);
  Verdict failed(const Message& m, uint32_t attempt, Settlement& s, const EnvelopeView& env, const HandlerEntry& h,
                 const std::exception_ptr& error);
  void publish_fault(const Envelope& env, const MessageType& type, std::string_view payload, const ErrorText& text,
                     uint32_t attempts);

  EndpointImpl& e_;
  Outbox& outbox_;
  CounterStripe& counters_;  // this thread's
  const bool gated_;
  OutgoingBatch outgoing_;  // what the handler sent, its room kept from one delivery to the next
  Envelope copy_;  // a handler's Context::envelope(), copied over the last one's (its strings' room reused)
};

}  // namespace shmbus::service::detail
