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

// The sending side of a flow on the TestBus: the TestBus's own verbs, or a Client made on it.
struct ClientSide {
  std::string source;
  Routes routes;
  std::string reply_topic;
  PendingRequests pending;
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
  void close(ClientSide& side) noexcept;  // fails its requests still waiting (kClosed)

  // The verbs of a Client (test_bus_verbs.cc), from `side`: each starts a flow and runs what it
  // causes before it returns.
  std::string publish_from(const ClientSide& side, const MessageType& type, std::string json);
  std::string send_from(const ClientSide& side, const MessageType& type, std::string json, std::string_view endpoint,
                        std::optional<std::chrono::system_clock::time_point> not_before);
  // Returns the request's message-id (= its correlation-id).
  std::string request_from(ClientSide& side, const MessageType& type, std::string json, std::string_view endpoint,
                           std::chrono::nanoseconds timeout, const MessageType& reply_type, Client::ReplyCallback done);
  uint64_t cancel_scheduled(std::string_view endpoint, std::string_view message_id);
  // A Client on the TestBus: its side gets replies to its own reply topic until it is removed.
  void add_side(ClientSide& side);
  void remove_side(ClientSide& side) noexcept;

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
  ClientSide own;  // the TestBus's verbs

 private:
  bool step(MemoryQueue& q);
  bool expire_requests();
  std::optional<TimePoint> next_event() const;
  double uniform() noexcept;

  std::vector<ClientSide*> sides_;  // own first, then the Clients'
  uint64_t clients_ = 0;
  std::mt19937_64 rng_;
  uint64_t order_ = 0;
  bool dispatching_ = false;
};

// The EndpointHost of an endpoint on a TestBus (test_host() in shmbus/service/test_bus.h hands
// it the TestBus's MemoryBus).
std::unique_ptr<EndpointHost> make_memory_host(std::shared_ptr<MemoryBus> bus);

// A Client made on a TestBus (Client(TestBus&, ...)).
class MemoryClient {
 public:
  MemoryClient(std::shared_ptr<MemoryBus> bus, const ClientOptions& options);
  ~MemoryClient();  // fails what still waits (kClosed)
  MemoryBus& bus() noexcept { return *bus_; }
  ClientSide& side() noexcept { return side_; }

 private:
  std::shared_ptr<MemoryBus> bus_;
  ClientSide side_;
};

}  // namespace shmbus::service::detail
