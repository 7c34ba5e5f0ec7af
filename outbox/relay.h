// The relay: one thread that reads committed outbox rows in seq order, publishes each to its
// topic, marks the batch sent, cleans up old rows, and waits for the next commit or sweep.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "shmbus/bus.h"
#include "shmbus/outbox/outbox.h"
#include "shmbus/outbox/storage.h"

namespace shmbus::outbox::detail {

class Relay {
 public:
  Relay(Bus bus, std::shared_ptr<Storage> storage, const OutboxOptions& options);
  ~Relay();  // stop()

  void start();
  void stop();
  bool flush(std::chrono::milliseconds timeout);
  OutboxStats stats() const noexcept;

 private:
  void run() noexcept;
  // One read: publishes the rows in order, marks those published sent; how many were read.
  size_t relay_batch(RelayConnection& conn);
  void publish(const OutboxMessage& m);
  void cleanup(RelayConnection& conn);
  // Waits up to `timeout` for a commit (in slices, so stop() is seen within kStopSlice).
  void wait(RelayConnection& conn, std::chrono::milliseconds timeout);
  void pause(std::chrono::milliseconds d);
  void drained();

  Bus bus_;
  std::shared_ptr<Storage> storage_;
  OutboxOptions options_;
  std::unordered_map<std::string, Publisher> publishers_;  // the relay thread's only
  std::thread thread_;
  // Relaxed: a flag the relay thread polls between steps; join() orders everything else.
  std::atomic<bool> stopping_{false};

  // Stats: written by the relay thread, read by any; relaxed, as counters need no order.
  std::atomic<uint64_t> relayed_{0}, wakeups_{0}, sweeps_{0}, errors_{0}, removed_{0};
  std::atomic<bool> relaying_{false};

  std::mutex drained_mu_;
  std::condition_variable drained_cv_;
  uint64_t drained_ = 0;  // guarded by drained_mu_: reads that found nothing more to relay
};

}  // namespace shmbus::outbox::detail
