// A consumer of a queue: takes records (new ones at the dispatch point D, redeliveries below
// it), settles them, moves the frontier F, and sweeps leases of dead or stalled consumers.
// Steps and races: docs/queues.md.
#pragma once

#include <memory>
#include <vector>

#include "log/log_storage.h"
#include "log/read.h"
#include "messaging/queue_impl.h"
#include "topic/slots.h"
#include "shmbus/queue.h"

namespace shmbus::detail {

// Memory topics: the position of the oldest record a queue still needs on `bound` (ring_hold.cc).
uint64_t ring_need(const BoundTopic& bound) noexcept;

class ConsumerImpl {
 public:
  ConsumerImpl(std::shared_ptr<QueueImpl> queue, const ConsumerOptions& options);
  ~ConsumerImpl();
  ConsumerImpl(const ConsumerImpl&) = delete;
  ConsumerImpl& operator=(const ConsumerImpl&) = delete;

  Result<Delivery> try_receive() noexcept;
  Result<Delivery> receive(std::chrono::nanoseconds timeout) noexcept;
  Result<void> ack(Delivery& d) noexcept;
  Result<void> nack(Delivery& d, std::optional<std::chrono::nanoseconds> delay, std::string_view error) noexcept;
  Result<void> reject(Delivery& d, std::string_view error) noexcept;
  Result<void> extend(Delivery& d) noexcept;
  Result<void> sync() noexcept;
  Result<void> release(Delivery& d) noexcept;
  uint32_t held() const noexcept { return held_; }

  // One pass over topic `i`'s entries below D: leases of dead consumers and expired leases go
  // back (charged one attempt, dead-lettered past max_deliveries), READY entries are counted
  // for takers, the earliest due time noted. Rate-limited across processes (every kSweepEveryNs).
  // `taken_over`: a slot we just took from a dead owner, whose leases are void whoever owns
  // the slot now (us).
  void sweep(size_t i, int64_t now_ns, bool force, uint32_t taken_over = 0) noexcept;

 private:
  struct Attached {
    BoundTopic* bound = nullptr;
    log::LogStorage log;   // our own copy: its own segment cache
    uint32_t slot = 0;     // our consumer slot in the state file (owner = slot)
    uint64_t generation = 0;
    // Memory topics: a subscriber slot of ours that holds the ring's publishers behind the
    // oldest record the queue still needs (hold_ring()).
    bool ring = false;
    topic::SlotHandle reader;
    // unblock_dispatch(): where D has waited since when (CLOCK_MONOTONIC_COARSE).
    uint64_t waiting_at = ~0ull;
    int64_t waiting_since_ns = 0;
  };
  void attach_new_topics() noexcept;
  void attach(BoundTopic& bound);
  void release_all() noexcept;
  Result<Delivery> take_new(Attached& a, int64_t now_ns) noexcept;
  Result<Delivery> take_redelivery(Attached& a, int64_t now_ns) noexcept;
  // Reads the record of seq `seq` at `position` into a Delivery: kData, or what is there instead.
  log::FrameState fill(Attached& a, uint64_t seq, uint64_t position, Delivery& out) noexcept;
  // A lease we hold on a seq `fill` found no record for: a voided claim's seq (kPadding) is
  // settled skipped; anything else (a segment that cannot be mapped now) goes back uncharged.
  void unfillable(Attached& a, uint64_t seq, uint64_t control, int64_t deadline, log::FrameState found) noexcept;
  void advance_frontier(Attached& a) noexcept;
  // stuck_dispatch.cc: D waits at a claim whose publisher died (no subscriber may ever void it).
  bool unblock_dispatch(Attached& a, log::TailValue d) noexcept;
  // ring_hold.cc: memory topics.
  void hold_ring(Attached& a) noexcept;
  void release_ring(Attached& a) noexcept;
  // pass_over.cc: D fell a lap behind a ring's tail, or behind a journal's retention: the
  // records passed over are lost (counted); D moves to `to` (the tail; the oldest retained).
  void pass_over(Attached& a, log::TailValue d, log::TailValue to) noexcept;
  void skip_lapped(Attached& a, log::TailValue d) noexcept;
  void skip_behind_retention(Attached& a, log::TailValue d) noexcept;
  // admission.cc: what happens to a record just leased before the caller sees it.
  enum class Admission : uint8_t { kDeliver, kSettled, kDeferred };
  Admission admit(Attached& a, Delivery& d, bool first_dispatch, int64_t now_ns) noexcept;
  bool move_lease(Attached& a, const Delivery& d, messaging::Control next, int64_t time) noexcept;
  void settle_unwanted(Attached& a, const Delivery& d, std::atomic<uint64_t>& counter) noexcept;
  void give_back(Attached& a, const Delivery& d) noexcept;
  void schedule_unharmed(Attached& a, const Delivery& d, int64_t due) noexcept;
  static void note_due(messaging::QueueFile& q, int64_t due) noexcept;
  std::optional<std::string_view> key_of(Attached& a, uint64_t seq) noexcept;
  bool key_in_flight(Attached& a, uint64_t seq, std::string_view key) noexcept;
  // Single-active queues.
  static uint64_t active_word(const Attached& a) noexcept;
  bool hold_active(Attached& a) noexcept;
  void skip_seq(Attached& a, uint64_t seq) noexcept;
  Attached* attached_for(const Delivery& d) noexcept;
  // Appends the record to <queue>.dlq with the reason headers, then settles it DEAD. The caller
  // holds the lease {control, time}. Slow path: allocates, never throws (kStorage if it failed).
  Result<void> dead_letter(Attached& a, uint64_t seq, uint64_t position, uint64_t control, int64_t time,
                           const char* reason, std::string_view error) noexcept;
  double next_uniform() noexcept;

  std::shared_ptr<QueueImpl> queue_;
  ConsumerOptions options_;
  std::vector<Attached> attached_;
  size_t next_ = 0;      // round robin over topics
  uint32_t held_ = 0;
  uint64_t rng_;
  uint64_t token_;
};

}  // namespace shmbus::detail
