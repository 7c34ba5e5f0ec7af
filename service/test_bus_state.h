// A TestBus's insides: the virtual clock, the records, the in-memory queues (the queue
// semantics an endpoint relies on: delivery in order, the retry backoff with jitter, the
// delivery limit, dead letters, not-before, expires-at, cancel), the requests waiting, and the
// loop that drives each endpoint's Pipeline, the very one its threads run on a bus.
#pragma once

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "clock.h"
#include "endpoint_impl.h"
#include "pending_requests.h"
#include "pipeline.h"
#include "sender.h"
#include "shmbus/service/test_bus.h"
#include "transport.h"

namespace shmbus::service::detail {

// Steady time starts at the real steady now (so it is positive, as the breaker's word needs);
// wall time at TestBusOptions::start. Both move only by set().
class VirtualClock final : public Clock {
 public:
  explicit VirtualClock(std::chrono::system_clock::time_point wall_start);
  TimePoint now() const noexcept override { return steady_start_ + elapsed(); }
  std::chrono::system_clock::time_point wall() const noexcept override;
  std::chrono::nanoseconds elapsed() const noexcept {
    return std::chrono::nanoseconds(elapsed_ns_.load(std::memory_order_relaxed));  // relaxed: one thread moves it
  }
  void set(std::chrono::nanoseconds elapsed) noexcept { elapsed_ns_.store(elapsed.count(), std::memory_order_relaxed); }
  TimePoint steady_of(std::chrono::system_clock::time_point wall) const noexcept;
  TimePoint start() const noexcept { return steady_start_; }

 private:
  TimePoint steady_start_;
  std::chrono::system_clock::time_point wall_start_;
  std::atomic<int64_t> elapsed_ns_{0};
};

struct MemoryRecord {
  std::string topic;
  Envelope envelope;
  std::string headers;  // the encoded headers block, as in a record
  std::string payload;
  std::chrono::nanoseconds at{};
  uint64_t seq = 0;
  Message message() const noexcept;
  Recorded recorded() const;
};

struct QueueEntry {
  const MemoryRecord* record = nullptr;
  uint32_t failed = 0;  // failed deliveries so far
  TimePoint due{};
  uint64_t order = 0;   // among entries due at once: first in, first out
  bool delayed = false; // held back by not-before (cancel_scheduled may take it)
};

struct MemoryQueue {
  std::string name;
  QueueConfig config;
  std::vector<QueueEntry> entries;  // not settled, not in flight
  EndpointImpl* endpoint = nullptr;  // while started
  std::unique_ptr<Pipeline> pipeline;
};

class MemoryBus final : public Outbox {
 public:
  explicit MemoryBus(TestBusOptions options);

  void publish(const Outgoing& out) override;
  void require_endpoint(std::string_view endpoint) override;

  void attach(EndpointImpl& e);  // declares (or reopens) its queue; throws Error on other bindings
  void detach(EndpointImpl& e) noexcept;

  // Runs everything due now, until nothing is.
  void run_due();
  void advance(std::chrono::nanoseconds d);
  void close() noexcept;  // fails the requests still waiting (kClosed)

  // Settling an entry (MemorySettlement).
  void retry_later(MemoryQueue& q, QueueEntry entry);
  void dead_letter(MemoryQueue& q, const QueueEntry& entry, std::string reason, std::string_view error);
  void record_consumed(const MemoryQueue& q, const QueueEntry& entry, Settled settled, std::string_view error);

  const TestBusOptions options;
  VirtualClock clock;
  std::deque<MemoryRecord> records;  // a deque: entries point at records
  std::map<std::string, MemoryQueue, std::less<>> queues;
  std::vector<Consumed> consumed;
  std::vector<DeadLetter> dead;
  PendingRequests pending;
  Routes routes;
  const std::string reply_topic = "replies.test-bus";

 private:
  bool step(MemoryQueue& q);
  bool expire_requests();
  std::optional<TimePoint> next_event() const;
  double uniform() noexcept;

  std::mt19937_64 rng_;
  uint64_t order_ = 0;
  bool dispatching_ = false;
};

// The EndpointHost of an endpoint on a TestBus (test_host() in shmbus/service/test_bus.h hands
// it the TestBus's MemoryBus).
std::unique_ptr<EndpointHost> make_memory_host(std::shared_ptr<MemoryBus> bus);

}  // namespace shmbus::service::detail
