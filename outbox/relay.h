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
#include <vector>

#include "commit_signal.h"
#include "shmbus/bus.h"
#include "shmbus/outbox/outbox.h"
#include "shmbus/outbox/storage.h"

namespace shmbus::outbox::detail {

class Relay final : public CommittedSink {
 public:
  Relay(Bus bus, std::shared_ptr<Storage> storage, const OutboxOptions& options);
  ~Relay();  // stop()

  void start();
  void stop();
  bool flush(std::chrono::milliseconds timeout);
  OutboxStats stats() const noexcept;
  // A committing thread of this process (SQLite): its rows, if they are next and the relay
  // thread is not at work, published here, saving the relay's wake-up.
  bool publish_committed(std::vector<OutboxMessage>& rows, bool& wake) noexcept override;

 private:
  void run() noexcept;
  // One read: publishes the rows in order, notes those published to be marked sent; how many
  // were read.
  size_t relay_batch(RelayConnection& conn);
  // Marks the published rows sent, if due (PostgreSQL: always; SQLite: every mark_every) or
  // `now`.
  void mark(RelayConnection& conn, bool now);
  void publish(const OutboxMessage& m);
  void cleanup(RelayConnection& conn);
  // Waits up to `timeout` for a commit (in slices, so stop() is seen within kStopSlice); a
  // wait that ran out counts as a sweep if `sweep`.
  void wait(RelayConnection& conn, std::chrono::milliseconds timeout, bool sweep);
  void pause(std::chrono::microseconds d);
  void drained();

  Bus bus_;
  std::shared_ptr<Storage> storage_;
  OutboxOptions options_;
  // Held by the relay thread while it works (read, publish, mark, clean up) and by a committer
  // in publish_committed: it guards publishers_, unmarked_, unmarked_since_, published_upto_.
  std::mutex work_mu_;
  std::unordered_map<std::string, Publisher> publishers_;
  std::vector<Header> headers_;  // publish()'s headers of the row at hand
  // Of the relay thread's connection: rows published and not yet marked sent, since when, and
  // (seq is commit order) the last seq published, which the next read starts after.
  std::vector<int64_t> unmarked_;
  std::chrono::steady_clock::time_point unmarked_since_;
  int64_t published_upto_ = 0;
  std::thread thread_;
  // Relaxed: a flag the relay thread polls between steps; join() orders everything else.
  std::atomic<bool> stopping_{false};

  // Stats: written by the relay thread, read by any; relaxed, as counters need no order.
  std::atomic<uint64_t> relayed_{0}, wakeups_{0}, sweeps_{0}, errors_{0}, removed_{0};
  std::atomic<bool> relaying_{false};

  std::mutex drained_mu_;
  std::condition_variable drained_cv_;
  uint64_t drained_ = 0;  // guarded by drained_mu_: reads that found nothing more to relay
  // Relaxed: a hint that a flush() waits (so the relay marks at once); drained_mu_ orders the rest.
  std::atomic<uint32_t> flushing_{0};
};

}  // namespace shmbus::outbox::detail
