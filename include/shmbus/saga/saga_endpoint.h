// Runs a saga: a service endpoint named after the machine, whose handlers load the instance
// a message maps to, apply the transition, and commit the new state, the message's
// "processed" mark and the messages the transition sends in one store transaction; a relay
// then publishes those messages (at once, and after a crash from the store).
//   auto store = saga::SqliteStore::open("orders.db");
//   saga::SagaEndpoint orders(bus, machine.definition(), store, {.missing = saga::MissingPolicy::kIgnore});
//   orders.start();  ...  orders.stop();
// The endpoint's queue orders per correlation-id (EndpointOptions::ordering_key): within a
// topic, one instance's messages are handled one at a time and in order; the store's write
// lock and the instance's version guard the rest (docs/sagas.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "shmbus/bus.h"
#include "shmbus/saga/machine.h"
#include "shmbus/saga/store.h"
#include "shmbus/service/endpoint.h"

namespace shmbus::saga {

// A message that maps to no instance and does not start one.
enum class MissingPolicy : uint8_t {
  kDeadLetter,  // rejected at once: dead-lettered, x-death-error "shmbus::saga::SagaNotFound: ..." (and Fault<T>)
  kIgnore,      // acknowledged and counted (stats().missing)
  kRetry,       // the queue's retries (it may have overtaken its start), dead-lettered at the last delivery
};

// Two handler threads, three immediate retries (a version conflict is retried at once), ten
// deliveries.
inline service::EndpointOptions saga_endpoint_defaults() {
  service::EndpointOptions e;
  e.concurrency = 2;
  e.immediate_retries = 3;
  e.max_deliveries = 10;
  return e;
}

struct SagaOptions {
  MissingPolicy missing = MissingPolicy::kDeadLetter;
  // A message whose instance exists but has no transition for it in its current state (a late
  // duplicate, a reply after a timeout), or whose instance finished: ignored and counted, or
  // (false) dead-lettered like a missing one.
  bool ignore_unexpected = true;
  // The endpoint: concurrency, retries, journal of the topics it creates. Its ordering_key is
  // set to correlation-id unless given.
  service::EndpointOptions endpoint = saga_endpoint_defaults();
  std::chrono::milliseconds sweep{200};  // the relay looks for what a crash left this often
  // Retention (docs/sagas.md, "Retention"), applied by the relay every `cleanup_every`.
  // Processed marks: longer than a duplicate can take to come (the queue's retries, a replayed
  // dead letter, a journal replay); an older duplicate is handled again. Finished instances:
  // 0 keeps them (a late message for one is `unexpected`; once removed it is `missing`).
  std::chrono::milliseconds keep_processed{std::chrono::hours(24 * 7)};
  std::chrono::milliseconds keep_finished{0};
  std::chrono::milliseconds cleanup_every{std::chrono::minutes(1)};
};

struct SagaStats {
  uint64_t started = 0;       // instances created
  uint64_t transitions = 0;   // committed steps (starts included)
  uint64_t finished = 0;      // instances completed or compensated
  uint64_t duplicates = 0;    // messages already processed (skipped)
  uint64_t missing = 0;       // no instance (ignored, dead-lettered or retried)
  uint64_t unexpected = 0;    // no transition in the instance's state, or finished
  uint64_t stale_timeouts = 0;  // timeouts no longer pending
  uint64_t conflicts = 0;     // version conflicts (retried)
  uint64_t relayed = 0;       // outgoing messages published (resends after a crash count again)
  uint64_t removed = 0;       // processed marks and finished instances removed by retention
};

namespace detail {
class SagaEndpointImpl;
}

class SagaEndpoint {
 public:
  SagaEndpoint(Bus bus, const Definition& definition, std::shared_ptr<Store> store, SagaOptions options = {});
  SagaEndpoint(SagaEndpoint&&) noexcept;
  SagaEndpoint& operator=(SagaEndpoint&&) noexcept;
  ~SagaEndpoint();  // stop()

  // Relays what an earlier run left unsent, declares the queue and starts the handlers and the
  // relay. Throws Error as Endpoint::start does.
  void start();
  // Graceful (Endpoint::stop), then the relay sends what is committed and stops.
  void stop();

  const std::string& name() const noexcept;
  SagaStats stats() const noexcept;
  service::Endpoint& endpoint() noexcept;  // routes, filters; before start()

 private:
  std::unique_ptr<detail::SagaEndpointImpl> impl_;
};

}  // namespace shmbus::saga
