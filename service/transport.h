// What the handler pipeline needs of the world it runs in, with two implementations: the bus
// (bus_host.cc: a Consumer settles, a Sender publishes, real threads and clocks) and a TestBus
// (test_bus_state.cc: in-memory queues on a virtual clock). The pipeline (pipeline.cc) is the
// same code in both.
#pragma once

#include <string_view>

#include "clock.h"
#include "shmbus/error.h"
#include "shmbus/queue.h"

namespace shmbus::service::detail {

struct Outgoing;
class EndpointImpl;

// Settles the delivery being handled (Consumer's verbs, on that one delivery).
class Settlement {
 public:
  virtual Result<void> ack() noexcept = 0;
  // Retry later (the queue's backoff); at the last attempt dead-letters (delivery_limit).
  virtual Result<void> nack(std::string_view error) noexcept = 0;
  virtual Result<void> reject(std::string_view error) noexcept = 0;  // dead-letter now

 protected:
  ~Settlement() = default;
};

// Where outgoing messages go.
class Outbox {
 public:
  // Throws Error if it cannot be published.
  virtual void publish(const Outgoing& out) = 0;
  // Throws RequestError kNoEndpoint unless a queue is bound to commands.<endpoint>.
  virtual void require_endpoint(std::string_view endpoint) = 0;

 protected:
  ~Outbox() = default;
};

// Where an endpoint runs: declares its queue and drives its deliveries through the pipeline.
class EndpointHost {
 public:
  virtual ~EndpointHost() = default;
  virtual const Clock& clock() const noexcept = 0;
  virtual void start(EndpointImpl& e) = 0;  // throws Error if the queue cannot be declared
  virtual void stop() noexcept = 0;         // graceful; idempotent
  virtual bool running() const noexcept = 0;
  virtual Queue queue() const = 0;          // throws Error where there is none
  // The breaker changed state: handler threads waiting for it look again.
  virtual void wake() noexcept = 0;
};

}  // namespace shmbus::service::detail
