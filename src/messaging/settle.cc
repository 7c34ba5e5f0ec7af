// Settling deliveries (ack, nack, reject, extend) and moving the frontier F past settled seqs.
#include <algorithm>

#include "base/cas16.h"
#include "base/kill_point.h"
#include "base/process_identity.h"
#include "messaging/consumer_impl.h"

namespace shmbus::detail {
using messaging::Control;
using messaging::Entry;
using messaging::EntryPair;
using messaging::EntryState;
using messaging::QueueFile;

ConsumerImpl::Attached* ConsumerImpl::attached_for(const Delivery& d) noexcept {
  if (d.topic_index_ >= attached_.size()) return nullptr;
  return &attached_[d.topic_index_];
}

// The lease we hold, settled into `next` (time `time`): one CAS16 expecting exactly our lease.
// kStaleLease if it was taken away. The delivery is spent either way.
static Result<void> settle(messaging::QueueFileHandle& state, uint64_t seq, uint64_t control, int64_t deadline,
                           Control next, int64_t time) noexcept {
  EntryPair held{control, deadline};
  if (!messaging::cas_entry(state.entry(seq), held, {next.encode(), time})) return Errc::kStaleLease;
  return {};
}

Result<void> ConsumerImpl::ack(Delivery& d) noexcept {
  Attached* a = attached_for(d);
  if (a == nullptr) return Errc::kInvalidArgument;
  Control done = Control::decode(d.control_);
  done.state = EntryState::kAcked;
  done.owner = 0;
  SHMBUS_KILL_POINT("queue.ack.before");
  Result<void> r = settle(*a->bound->state, d.seq_, d.control_, d.deadline_ns_, done, 0);
  SHMBUS_KILL_POINT("queue.ack.after");
  d.topic_index_ = Delivery::kNone;
  --held_;
  if (!r) return r;
  advance_frontier(*a);
  return {};
}

Result<void> ConsumerImpl::nack(Delivery& d, std::optional<std::chrono::nanoseconds> delay,
                                std::string_view error) noexcept {
  Attached* a = attached_for(d);
  if (a == nullptr) return Errc::kInvalidArgument;
  QueueFile& q = a->bound->state->file();
  const Control held = Control::decode(d.control_);
  const uint32_t failed = static_cast<uint32_t>(held.attempts) + 1;
  if (failed >= q.header.max_deliveries) {
    const uint64_t position = a->bound->state->entry(d.seq_).position.load(std::memory_order_relaxed);
    Result<void> r = dead_letter(*a, d.seq_, position, d.control_, d.deadline_ns_, "delivery_limit",
                                 error.empty() ? std::string_view("nacked") : error);
    d.topic_index_ = Delivery::kNone;
    --held_;
    return r;
  }
  const QueueConfig& c = queue_->config();
  const auto wait = delay ? *delay : c.retry.delay(failed, next_uniform());
  const int64_t due = base::realtime_ns() + wait.count();
  Control later = held;
  later.state = EntryState::kScheduled;
  later.owner = 0;
  later.started = false;
  later.attempts = static_cast<uint8_t>(failed);
  SHMBUS_KILL_POINT("queue.nack.before");
  Result<void> r = settle(*a->bound->state, d.seq_, d.control_, d.deadline_ns_, later, due);
  SHMBUS_KILL_POINT("queue.nack.after");
  d.topic_index_ = Delivery::kNone;
  --held_;
  if (!r) return r;
  q.hints.nacked.fetch_add(1, std::memory_order_relaxed);  // relaxed: statistics
  note_due(q, due);
  return {};
}

Result<void> ConsumerImpl::reject(Delivery& d, std::string_view error) noexcept {
  Attached* a = attached_for(d);
  if (a == nullptr) return Errc::kInvalidArgument;
  const uint64_t position = a->bound->state->entry(d.seq_).position.load(std::memory_order_relaxed);
  Result<void> r = dead_letter(*a, d.seq_, position, d.control_, d.deadline_ns_, "rejected", error);
  d.topic_index_ = Delivery::kNone;
  --held_;
  return r;
}

Result<void> ConsumerImpl::extend(Delivery& d) noexcept {
  Attached* a = attached_for(d);
  if (a == nullptr) return Errc::kInvalidArgument;
  const int64_t deadline = base::realtime_ns() + a->bound->state->file().header.lease_ns;
  EntryPair held{d.control_, d.deadline_ns_};
  if (!messaging::cas_entry(a->bound->state->entry(d.seq_), held, {d.control_, deadline})) return Errc::kStaleLease;
  d.deadline_ns_ = deadline;
  return {};
}

// Back to READY with the attempts it had: the lease is given up, not failed (release_all() does
// the same for every lease at close).
Result<void> ConsumerImpl::release(Delivery& d) noexcept {
  Attached* a = attached_for(d);
  if (a == nullptr) return Errc::kInvalidArgument;
  Control back = Control::decode(d.control_);
  back.state = EntryState::kReady;
  back.owner = 0;
  back.started = false;
  Result<void> r = settle(*a->bound->state, d.seq_, d.control_, d.deadline_ns_, back, 0);
  d.topic_index_ = Delivery::kNone;
  --held_;
  if (!r) return r;
  // Relaxed: a hint that makes takers scan below D (take_redelivery()).
  a->bound->state->file().hints.redeliverable.fetch_add(1, std::memory_order_relaxed);
  return {};
}

// Batched durability of settlements: one msync per journal topic's state file for every ack,
// nack and dead letter so far (memory topics have no disk to reach).
Result<void> ConsumerImpl::sync() noexcept {
  bool ok = true;
  for (Attached& a : attached_) {
    if (!a.ring) ok &= a.bound->state->sync();
  }
  if (!ok) return Errc::kStorage;
  return {};
}

// A seq with no record for this queue (a voided claim): settled as skipped.
void ConsumerImpl::skip_seq(Attached& a, uint64_t seq) noexcept {
  messaging::QueueFileHandle& state = *a.bound->state;
  EntryPair fresh = messaging::load_entry(state.entry(seq));
  const Control expected = Control::fresh(state.lap_of(seq));
  Control skipped = expected;
  skipped.state = EntryState::kSkipped;
  if (fresh.control == expected.encode() && messaging::cas_entry(state.entry(seq), fresh, {skipped.encode(), 0})) {
    state.file().hints.skipped.fetch_add(1, std::memory_order_relaxed);  // relaxed: statistics
  }
  advance_frontier(a);
}

// Moves F past settled seqs. Each step: reset the entry for seq f + window (a CAS16 from the
// settled value seen, so a slow advancer never resets an entry of a newer lap), then CAS F.
// An entry already reset for the next lap while F still points at it means an advancer died
// between its two steps: F is moved on.
void ConsumerImpl::advance_frontier(Attached& a) noexcept {
  messaging::QueueFileHandle& state = *a.bound->state;
  QueueFile& q = state.file();
  // A settled record may free its key's parked successors: takers look below D again.
  if (!queue_->config().ordering_key.empty()) q.hints.redeliverable.fetch_add(1, std::memory_order_relaxed);
  for (;;) {
    // SYNC: frontier (read) — acquire pairs with the seq_cst CAS below.
    uint64_t f = q.frontier.seq.load(std::memory_order_acquire);
    if (f >= q.dispatch.seq.load(std::memory_order_acquire)) break;
    Entry& e = state.entry(f);
    EntryPair p = messaging::load_entry(e);
    const Control c = Control::decode(p.control);
    const Control reset = Control::fresh(state.lap_of(f + state.window()));
    EntryState was = static_cast<EntryState>(p.time);
    if (p.control != reset.encode()) {
      if (c.lap != state.lap_of(f) || !c.settled()) break;
      was = c.state;
      // The reset keeps what it was settled as, for the advancer that moves F if we die now.
      if (!messaging::cas_entry(e, p, {reset.encode(), static_cast<int64_t>(was)})) continue;
      SHMBUS_KILL_POINT("queue.frontier.after_reset");
    }
    // Relaxed: the CAS16 below checks both halves; a torn read only fails it.
    const uint64_t counts = q.frontier.counts.load(std::memory_order_relaxed);
    const uint64_t next_counts = counts + (was == EntryState::kAcked ? 1 : 0) + (was == EntryState::kDead ? 1ull << 40 : 0);
    // SYNC: frontier (advance) — seq_cst: the reset above is visible to whoever sees F past f.
    base::U128 seen = base::pack128(f, counts);
    base::cas16(&q.frontier, seen, base::pack128(f + 1, next_counts));
  }
  if (a.ring) hold_ring(a);  // the ring's publishers may go as far as F's record allows
}

}  // namespace shmbus::detail
