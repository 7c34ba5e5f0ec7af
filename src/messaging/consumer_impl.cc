// Taking deliveries: new records at the dispatch point, redeliveries below it.
#include "messaging/consumer_impl.h"

#include <sched.h>

#include <thread>

#include "base/kill_point.h"
#include "base/process_identity.h"
#include "base/realtime_clock.h"
#include "log/read.h"
#include "log/record_format.h"
#include "log/tail.h"

namespace shmbus::detail {
using messaging::Control;
using messaging::Entry;
using messaging::EntryPair;
using messaging::EntryState;
using messaging::QueueFile;

namespace {
constexpr int64_t kIdleSleepNs = 1'000'000;  // a waiting receive looks again this often
constexpr int kYieldingPolls = 200;          // ... after this many polls that yield the CPU

}  // namespace

ConsumerImpl::ConsumerImpl(std::shared_ptr<QueueImpl> queue, const ConsumerOptions& options)
    : queue_(std::move(queue)), options_(options), rng_(base::self_token() ^ static_cast<uint64_t>(base::monotonic_ns())),
      token_(base::self_token()) {
  if (options_.prefetch == 0) throw Error("consumer prefetch must be at least 1", ErrorKind::kInvalidArgument);
  queue_->refresh();
  attached_.reserve(64);
  attach_new_topics();
}

ConsumerImpl::~ConsumerImpl() { release_all(); }

// A slot of our own in the topic's state file. A slot whose owner died is taken over, and the
// leases it left behind go back first (charged: their handling had begun).
void ConsumerImpl::attach(BoundTopic& bound) {
  QueueFile& q = bound.state->file();
  for (uint32_t i = 1; i <= messaging::kMaxConsumers; ++i) {
    messaging::ConsumerSlot& s = q.consumers[i];
    // Acquire: pairs with the release in release_all(); a dead owner's slot is taken by CAS.
    uint64_t owner = s.owner.load(std::memory_order_acquire);
    if (owner != 0 && base::owner_alive(owner)) continue;
    if (!s.owner.compare_exchange_strong(owner, token_, std::memory_order_acq_rel)) continue;
    // Relaxed: the generation is read only by stats; the owner CAS published the slot.
    const uint64_t generation = s.generation.fetch_add(1, std::memory_order_relaxed) + 1;
    Attached attached{&bound, bound.topic->log(), i, generation, false, {}, ~0ull, 0};
    if (!bound.topic->storage().keeps_records()) {
      attached.ring = true;
      try {
        attached.reader = topic::attach_subscriber(bound.topic->meta(), bound.name.c_str(), ring_need(bound));
      } catch (...) {
        s.owner.store(0, std::memory_order_release);  // no ring slot: give the queue slot back too
        throw;
      }
    }
    attached_.push_back(attached);
    // The dead owner's leases carry this slot's number, which is ours now: they go back first.
    if (owner != 0) sweep(attached_.size() - 1, base::realtime_ns(), /*force=*/true, /*taken_over=*/i);
    return;
  }
  throw Error("queue " + queue_->name() + " on topic " + bound.name + ": all " +
                  std::to_string(messaging::kMaxConsumers) + " consumer slots are taken by live processes",
              ErrorKind::kFull);
}

void ConsumerImpl::attach_new_topics() noexcept {
  try {
    queue_->refresh();
    for (size_t i = attached_.size(); i < queue_->topic_count(); ++i) attach(queue_->topic_at(i));
  } catch (const std::exception&) {
    // A topic that cannot be attached now (slots full, files unreadable, no memory) is tried
    // again at the next registry change; the others keep flowing.
  }
}

void ConsumerImpl::release_all() noexcept {
  for (size_t i = 0; i < attached_.size(); ++i) {
    Attached& a = attached_[i];
    QueueFile& q = a.bound->state->file();
    // Our leases go back uncharged: a consumer that closes has not failed them.
    const uint64_t d = q.dispatch.seq.load(std::memory_order_acquire);
    for (uint64_t s = q.frontier.seq.load(std::memory_order_acquire); s < d; ++s) {
      Entry& e = a.bound->state->entry(s);
      EntryPair p = messaging::load_entry(e);
      const Control c = Control::decode(p.control);
      if (c.state != EntryState::kLeased || c.owner != a.slot || c.lap != a.bound->state->lap_of(s)) continue;
      Control back = c;
      back.state = EntryState::kReady;
      back.owner = 0;
      back.started = false;
      if (messaging::cas_entry(e, p, {back.encode(), 0})) {
        q.hints.redeliverable.fetch_add(1, std::memory_order_relaxed);  // relaxed: a hint
      }
    }
    // Release: whoever takes the active role over sees our settlements. SYNC: active consumer.
    uint64_t active = active_word(a);
    q.hints.active.compare_exchange_strong(active, 0, std::memory_order_release, std::memory_order_relaxed);
    release_ring(a);
    // Release: our settlements happen before the slot is seen free. SYNC: consumer slot.
    q.consumers[a.slot].owner.store(0, std::memory_order_release);
  }
  attached_.clear();
}

uint64_t ConsumerImpl::active_word(const Attached& a) noexcept { return a.slot | a.generation << 8; }

// Single-active queues: true if we are (or just became) the topic's active consumer. The role
// is taken from nobody, or from a slot whose owner died or that was taken over since (its
// generation moved on).
bool ConsumerImpl::hold_active(Attached& a) noexcept {
  QueueFile& q = a.bound->state->file();
  const uint64_t mine = active_word(a);
  // Acquire: pairs with the release that freed the role; the previous holder's settlements are
  // visible before we take deliveries.
  uint64_t holder = q.hints.active.load(std::memory_order_acquire);
  for (;;) {
    if (holder == mine) return true;
    if (holder != 0) {
      const messaging::ConsumerSlot& slot = q.consumers[holder & 0xFF];
      const uint64_t owner = slot.owner.load(std::memory_order_acquire);
      const bool same_attach = slot.generation.load(std::memory_order_relaxed) == holder >> 8;
      if (owner != 0 && same_attach && base::owner_alive(owner)) return false;
    }
    // SYNC: active consumer (take) — acq_rel.
    if (q.hints.active.compare_exchange_weak(holder, mine, std::memory_order_acq_rel, std::memory_order_acquire)) {
      return true;
    }
  }
}

double ConsumerImpl::next_uniform() noexcept {
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  return static_cast<double>(rng_ >> 11) * 0x1.0p-53;
}

log::FrameState ConsumerImpl::fill(Attached& a, uint64_t seq, uint64_t position, Delivery& out) noexcept {
  const log::FrameView v = log::read_frame(a.log, a.bound->topic->meta().tail, position, seq);
  if (v.state != log::FrameState::kData) return v.state;
  const auto* h = log::header_of(v.bytes);
  const size_t len = static_cast<size_t>(v.word.len);
  const size_t headers_len = h->headers_len;
  Message& m = out.message_;
  m.topic = a.bound->name;
  m.position = position;
  m.seq = h->seq;
  m.timestamp_ns = h->timestamp_ns;
  m.headers = headers_len != 0 ? HeadersView({v.bytes + log::kHeaderBytes, headers_len}) : HeadersView();
  m.payload = {v.bytes + log::kHeaderBytes + headers_len, len - log::kHeaderBytes - headers_len};
  out.pin_ = a.log.pin();
  return log::FrameState::kData;
}

void ConsumerImpl::unfillable(Attached& a, uint64_t seq, uint64_t control, int64_t deadline,
                              log::FrameState found) noexcept {
  messaging::QueueFileHandle& state = *a.bound->state;
  EntryPair held{control, deadline};
  Control next = Control::decode(control);
  next.owner = 0;
  next.started = false;
  // A record a ring overwrote, or retention deleted, before the queue settled it is lost, not retried.
  const uint64_t position = state.entry(seq).position.load(std::memory_order_relaxed);
  // Acquire: pairs with retention's release before it deletes.
  const bool deleted = !a.ring && position < a.bound->topic->meta().journal.first_position.load(std::memory_order_acquire);
  const bool lapped = deleted || (a.ring && (found == log::FrameState::kLapped || found == log::FrameState::kCorrupt));
  next.state = found == log::FrameState::kPadding || lapped ? EntryState::kSkipped : EntryState::kReady;
  if (!messaging::cas_entry(state.entry(seq), held, {next.encode(), 0})) return;
  if (next.state == EntryState::kSkipped) {
    // Relaxed: statistics.
    (lapped ? state.file().hints.lost : state.file().hints.skipped).fetch_add(1, std::memory_order_relaxed);
    advance_frontier(a);
  } else {
    state.file().hints.redeliverable.fetch_add(1, std::memory_order_relaxed);  // relaxed: a hint
  }
}

// The CAS16 that gives us a lease on seq `s` whose entry holds `seen`. Fills the delivery.
static bool lease(messaging::QueueFileHandle& state, uint64_t s, EntryPair& seen, uint32_t slot, int64_t deadline,
                  uint64_t& control_out) noexcept {
  Control c = Control::decode(seen.control);
  c.state = EntryState::kLeased;
  c.owner = static_cast<uint8_t>(slot);
  c.started = true;  // pull style: a delivery handed out is being handled
  ++c.epoch;
  const EntryPair want{c.encode(), deadline};
  if (!messaging::cas_entry(state.entry(s), seen, want)) return false;
  SHMBUS_KILL_POINT("queue.lease.after");
  control_out = want.control;
  return true;
}

Result<Delivery> ConsumerImpl::take_new(Attached& a, int64_t now_ns) noexcept {
  messaging::QueueFileHandle& state = *a.bound->state;
  QueueFile& q = state.file();
  const int64_t deadline = now_ns + q.header.lease_ns;
  for (;;) {
    // SYNC: dispatch (read) — acquire pairs with the CAS16 below.
    const log::TailValue d = log::read_tail_fast(q.dispatch);
    // Acquire: pairs with the seq_cst CAS of F in advance_frontier(); the entry of d.seq was
    // reset for this lap before F passed d.seq - window.
    if (d.seq >= q.frontier.seq.load(std::memory_order_acquire) + state.window()) {
      advance_frontier(a);
      if (d.seq >= q.frontier.seq.load(std::memory_order_acquire) + state.window()) return Errc::kTimeout;
    }
    // A ring lapped D (what it held is overwritten, whatever its bytes look like now). A tail
    // exactly a lap ahead is a full ring held by us, not yet a lap: the next claim would be.
    // Acquire: pairs with the claim's tail store or CAS.
    if (a.ring && a.bound->topic->meta().tail.position.load(std::memory_order_acquire) > d.position + a.log.lap_bytes()) {
      skip_lapped(a, d);
      return Errc::kTimeout;
    }
    // Retention deleted D's segment before the queue took its records. Acquire: pairs with
    // retention's release before it deletes.
    if (!a.ring && d.position < a.bound->topic->meta().journal.first_position.load(std::memory_order_acquire)) {
      skip_behind_retention(a, d);
      return Errc::kTimeout;
    }
    const log::FrameView v = log::read_frame(a.log, a.bound->topic->meta().tail, d.position, d.seq);
    log::TailValue next{d.position + v.frame_bytes, d.seq};
    switch (v.state) {
      case log::FrameState::kEmpty:
      case log::FrameState::kPending:
        // Nothing new yet, or a claim whose publisher died before its commit: voided, we go on.
        if (unblock_dispatch(a, d)) continue;
        return Errc::kTimeout;
      case log::FrameState::kLapped:
      case log::FrameState::kCorrupt: return Errc::kCorrupt;
      case log::FrameState::kPadding: next.seq += log::seq_step(v.word); break;
      case log::FrameState::kData: next.seq += 1; break;
    }
    // Every contender stores the same position before the CAS decides: whoever wins, an entry
    // below D knows where its record is. Relaxed: the CAS16 on D (seq_cst) publishes it.
    // Only ever raised: a contender stalled for a window's worth of records must not write its
    // old position over the entry's next lap (journal positions grow with seqs).
    if (next.seq != d.seq) {
      std::atomic<uint64_t>& pos = state.entry(d.seq).position;
      uint64_t cur = pos.load(std::memory_order_relaxed);
      while (cur < d.position && !pos.compare_exchange_weak(cur, d.position, std::memory_order_relaxed)) {
      }
    }
    log::TailValue seen = d;
    SHMBUS_KILL_POINT("queue.dispatch.before");
    if (!log::cas_tail(q.dispatch, seen, next)) continue;
    SHMBUS_KILL_POINT("queue.dispatch.after");
    if (v.state == log::FrameState::kPadding) {
      for (uint64_t s = d.seq; s < next.seq; ++s) skip_seq(a, s);  // a voided claim's seq
      continue;
    }
    // Fresh for this lap: READY, epoch 0 (its time holds how the seq a window back was settled).
    EntryPair fresh = messaging::load_entry(state.entry(d.seq));
    if (fresh.control != Control::fresh(state.lap_of(d.seq)).encode()) continue;
    Delivery out;
    uint64_t control = 0;
    if (!lease(state, d.seq, fresh, a.slot, deadline, control)) continue;  // a sweeper took it first
    if (const log::FrameState found = fill(a, d.seq, d.position, out); found != log::FrameState::kData) {
      unfillable(a, d.seq, control, deadline, found);  // read as a record a moment ago: a mapping failed
      return Errc::kStorage;
    }
    out.topic_index_ = static_cast<uint32_t>(&a - attached_.data());
    out.attempt_ = 1;
    out.seq_ = d.seq;
    out.control_ = control;
    out.deadline_ns_ = deadline;
    if (admit(a, out, /*first_dispatch=*/true, now_ns) == Admission::kDeliver) return out;
  }
}

Result<Delivery> ConsumerImpl::take_redelivery(Attached& a, int64_t now_ns) noexcept {
  messaging::QueueFileHandle& state = *a.bound->state;
  QueueFile& q = state.file();
  // Relaxed: hints; a stale one costs a scan or a sweep's delay, never a record.
  if (q.hints.redeliverable.load(std::memory_order_relaxed) == 0 &&
      now_ns < q.hints.next_due_ns.load(std::memory_order_relaxed)) {
    return Errc::kTimeout;
  }
  const uint64_t d = q.dispatch.seq.load(std::memory_order_acquire);
  const bool ordered = !queue_->config().ordering_key.empty();
  int64_t next_due = INT64_MAX;
  for (uint64_t s = q.frontier.seq.load(std::memory_order_acquire); s < d; ++s) {
    EntryPair p = messaging::load_entry(state.entry(s));
    const Control c = Control::decode(p.control);
    if (c.lap != state.lap_of(s)) continue;
    const bool due = c.state == EntryState::kScheduled && p.time <= now_ns;
    if (c.state == EntryState::kScheduled && !due) next_due = std::min(next_due, p.time);
    if (c.state != EntryState::kReady && !due) continue;
    // A parked key's record is passed over without a lease (admit() checks again after one).
    if (ordered) {
      const std::optional<std::string_view> key = key_of(a, s);
      if (key && key_in_flight(a, s, *key)) continue;
    }
    Delivery out;
    uint64_t control = 0;
    const int64_t deadline = now_ns + q.header.lease_ns;
    if (!lease(state, s, p, a.slot, deadline, control)) continue;
    if (c.state == EntryState::kReady) {
      uint64_t r = q.hints.redeliverable.load(std::memory_order_relaxed);
      while (r != 0 && !q.hints.redeliverable.compare_exchange_weak(r, r - 1, std::memory_order_relaxed)) {
      }
    }
    const uint64_t position = state.entry(s).position.load(std::memory_order_relaxed);
    if (const log::FrameState found = fill(a, s, position, out); found != log::FrameState::kData) {
      // A voided claim's seq whose dispatcher died is skipped; a segment that cannot be mapped
      // now is given back and reported.
      unfillable(a, s, control, deadline, found);
      if (found == log::FrameState::kPadding) continue;
      return Errc::kStorage;
    }
    out.topic_index_ = static_cast<uint32_t>(&a - attached_.data());
    out.attempt_ = static_cast<uint32_t>(c.attempts) + 1;
    out.seq_ = s;
    out.control_ = control;
    out.deadline_ns_ = deadline;
    if (admit(a, out, /*first_dispatch=*/false, now_ns) != Admission::kDeliver) continue;
    // A delayed record's first delivery is no redelivery.
    if (c.attempts != 0 || c.state == EntryState::kReady) q.hints.redelivered.fetch_add(1, std::memory_order_relaxed);
    return out;
  }
  // Nothing ready below D now: the hint is cleared (a sweep sets it again if need be).
  q.hints.redeliverable.store(0, std::memory_order_relaxed);
  q.hints.next_due_ns.store(next_due, std::memory_order_relaxed);
  return Errc::kTimeout;
}

Result<Delivery> ConsumerImpl::try_receive() noexcept {
  // Our own view: another consumer of this handle (or stats()) may have refreshed the queue.
  if (queue_->registry_changed() || attached_.size() < queue_->topic_count()) attach_new_topics();
  if (held_ >= options_.prefetch) return Errc::kHeldLimit;
  // Coarse: a clock read per delivery was a fifth of a busy consumer's time; leases and due
  // times are judged in milliseconds (a due record is taken a few ms late, never early).
  const int64_t now = base::coarse_realtime_ns();
  const size_t n = attached_.size();
  Errc error = Errc::kTimeout;
  for (size_t k = 0; k < n; ++k) {
    const size_t i = (next_ + k) % n;
    sweep(i, now, /*force=*/false);
    if (attached_[i].ring) hold_ring(attached_[i]);
    if (queue_->config().single_active && !hold_active(attached_[i])) continue;
    for (auto take : {&ConsumerImpl::take_redelivery, &ConsumerImpl::take_new}) {
      Result<Delivery> got = (this->*take)(attached_[i], now);
      if (got) {
        next_ = (i + 1) % n;
        ++held_;
        return got;
      }
      if (got.error() != Errc::kTimeout) error = got.error();
    }
  }
  return error;
}

Result<Delivery> ConsumerImpl::receive(std::chrono::nanoseconds timeout) noexcept {
  // A delivery ready now costs no clock read for the deadline (18 % of a busy consumer's time).
  if (Result<Delivery> now = try_receive(); now || now.error() != Errc::kTimeout) return now;
  const int64_t deadline = base::monotonic_ns() + timeout.count();
  for (int polls = 0;; ++polls) {
    Result<Delivery> got = try_receive();
    if (got || got.error() != Errc::kTimeout) return got;
    const int64_t left = deadline - base::monotonic_ns();
    if (left <= 0) return Errc::kTimeout;
    if (polls < kYieldingPolls) {  // a record is often a few microseconds away
      sched_yield();
      continue;
    }
    // Queues are for work, not for nanoseconds: a waiting consumer sleeps in short slices
    // (a futex on the topics' data words is the next step; docs/queues.md).
    std::this_thread::sleep_for(std::chrono::nanoseconds(std::min(left, kIdleSleepNs)));
  }
}

}  // namespace shmbus::detail
