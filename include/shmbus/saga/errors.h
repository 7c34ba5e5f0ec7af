// What a saga endpoint throws from a handler, so that the service pipeline settles the message
// as the saga's policies say (docs/sagas.md, "Messages without a saga").
#pragma once

#include <stdexcept>
#include <string>

namespace shmbus::saga {

// The message maps to no instance and does not start one, under MissingPolicy::kDeadLetter:
// never retried (the endpoint rejects it at once), so the dead letter says why.
class SagaNotFound : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The same, under MissingPolicy::kRetry: retried by the queue's backoff (the instance may be
// on its way: a message that overtook the one starting it), dead-lettered at the last delivery.
class SagaNotYetStarted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The instance changed between load and save (its version moved): another handler saved it
// first. Retried (immediate retries, then the queue's); with per-key order it should not happen.
class ConcurrencyConflict : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace shmbus::saga
