// What a queue does with a record it has just leased, before the caller sees it: the header
// filter, dedup by message-id, TTL (expires-at), delayed delivery (not-before), per-key order.
// Each decision moves the lease we hold to the entry's next state with one CAS16; a lease taken
// away meanwhile (kStaleLease) simply drops the record from our hands.
#include <string_view>

#include "base/cas16.h"
#include "base/process_identity.h"
#include "messaging/consumer_impl.h"
#include "shmbus/envelope.h"
#include "shmbus/headers.h"

namespace shmbus::detail {
using messaging::Control;
using messaging::EntryPair;
using messaging::EntryState;
using messaging::QueueFile;

namespace {

uint64_t id_hash(std::string_view id) noexcept {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (char c : id) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h == 0 ? 1 : h;
}

// True if `hash` was recorded within `window_ns` before `now`; else records it (if a slot of its
// probe run is free) and returns false. Two dispatchers of one id race for the same first free
// slot: the CAS16 lets one record it, and the other then finds it there.
bool seen_recently(QueueFile& q, uint64_t hash, int64_t now, int64_t window_ns) noexcept {
  messaging::DedupSlot* table = messaging::dedup_of(q);
  for (uint64_t i = 0; i < messaging::kDedupProbes;) {
    messaging::DedupSlot& slot = table[(hash + i) % messaging::kDedupSlots];
    // Acquire: pairs with the seq_cst CAS16 below; hash, time, hash again for a consistent pair.
    const uint64_t h = slot.hash.load(std::memory_order_acquire);
    const int64_t time = slot.time.load(std::memory_order_acquire);
    if (slot.hash.load(std::memory_order_acquire) != h) continue;
    const bool fresh = now - time < window_ns;
    if (h == hash && fresh) return true;
    if (h != 0 && fresh) {
      ++i;  // another id's: probe on
      continue;
    }
    base::U128 seen = base::pack128(h, static_cast<uint64_t>(time));
    // SYNC: dedup slot (record) — seq_cst CAS16; on failure look at the same slot again.
    if (base::cas16(&slot, seen, base::pack128(hash, static_cast<uint64_t>(now)))) return false;
  }
  return false;  // its probe run is full of fresh ids: delivered, not recorded
}

}  // namespace

// Our lease on `d`, moved to `next` with `time`; false if it was taken away meanwhile.
bool ConsumerImpl::move_lease(Attached& a, const Delivery& d, Control next, int64_t time) noexcept {
  EntryPair held{d.control_, d.deadline_ns_};
  return messaging::cas_entry(a.bound->state->entry(d.seq_), held, {next.encode(), time});
}

// Settled without a delivery: filtered out, a duplicate, or expired and dropped.
void ConsumerImpl::settle_unwanted(Attached& a, const Delivery& d, std::atomic<uint64_t>& counter) noexcept {
  Control skipped = Control::decode(d.control_);
  skipped.state = EntryState::kSkipped;
  skipped.owner = 0;
  if (!move_lease(a, d, skipped, 0)) return;
  counter.fetch_add(1, std::memory_order_relaxed);  // relaxed: statistics
  advance_frontier(a);
}

// Back to READY, its attempts untouched: not this consumer's failure (a parked key).
void ConsumerImpl::give_back(Attached& a, const Delivery& d) noexcept {
  Control ready = Control::decode(d.control_);
  ready.state = EntryState::kReady;
  ready.owner = 0;
  ready.started = false;
  if (move_lease(a, d, ready, 0)) {
    a.bound->state->file().hints.redeliverable.fetch_add(1, std::memory_order_relaxed);  // relaxed: a hint
  }
}

// Delayed: SCHEDULED until `due`, its attempts untouched (a delay is no failure).
void ConsumerImpl::schedule_unharmed(Attached& a, const Delivery& d, int64_t due) noexcept {
  Control later = Control::decode(d.control_);
  later.state = EntryState::kScheduled;
  later.owner = 0;
  later.started = false;
  if (!move_lease(a, d, later, due)) return;
  note_due(a.bound->state->file(), due);
}

void ConsumerImpl::note_due(QueueFile& q, int64_t due) noexcept {
  // Relaxed: a hint; takers look at the entries themselves once it says something is due.
  int64_t seen = q.hints.next_due_ns.load(std::memory_order_relaxed);
  while (due < seen && !q.hints.next_due_ns.compare_exchange_weak(seen, due, std::memory_order_relaxed)) {
  }
}

// The value of the ordering header in the record of `seq` (nullopt: none, or not readable now).
std::optional<std::string_view> ConsumerImpl::key_of(Attached& a, uint64_t seq) noexcept {
  const uint64_t position = a.bound->state->entry(seq).position.load(std::memory_order_relaxed);
  const log::FrameView v = log::read_frame(a.log, a.bound->topic->meta().tail, position, seq);
  if (v.state != log::FrameState::kData) return std::nullopt;
  const uint32_t headers_len = log::header_of(v.bytes)->headers_len;
  if (headers_len == 0) return std::nullopt;
  return HeadersView({v.bytes + log::kHeaderBytes, headers_len}).find(queue_->config().ordering_key);
}

// True if a record of `key` before `seq` (in [F, seq)) is not settled yet: in flight, waiting
// for a retry or a delay, or ready and not taken. A settled entry never becomes unsettled in its
// lap, so what this finds settled stays settled when we take `seq`.
bool ConsumerImpl::key_in_flight(Attached& a, uint64_t seq, std::string_view key) noexcept {
  messaging::QueueFileHandle& state = *a.bound->state;
  // Acquire: pairs with the seq_cst CAS of F (entries below it are reset for their next lap).
  for (uint64_t s = state.file().frontier.seq.load(std::memory_order_acquire); s < seq; ++s) {
    const Control c = Control::decode(messaging::load_entry(state.entry(s)).control);
    if (c.lap != state.lap_of(s) || c.settled()) continue;
    if (key_of(a, s) == key) return true;
  }
  return false;
}

ConsumerImpl::Admission ConsumerImpl::admit(Attached& a, Delivery& d, bool first_dispatch, int64_t now_ns) noexcept {
  const QueueConfig& config = queue_->config();
  QueueFile& q = a.bound->state->file();
  const HeadersView& headers = d.message_.headers;
  // Every header this looks at, in one pass (a find() each scanned a service envelope's dozen
  // headers five times per delivery).
  enum : size_t { kReplayFor, kReplayedMark, kId, kExpires, kDue, kKey, kLooked };
  const std::string_view keys[kLooked] = {header_keys::kReplayQueue, header_keys::kReplayed, header_keys::kMessageId,
                                          header_keys::kExpiresAt,   header_keys::kNotBefore, config.ordering_key};
  std::optional<std::string_view> found[kLooked];
  headers.find_each(std::span(keys, config.ordering_key.empty() ? kKey : kLooked), found);
  const std::optional<std::string_view>& replay_for = found[kReplayFor];
  const bool not_ours = replay_for && *replay_for != queue_->name();
  if (first_dispatch && (not_ours || (queue_->filters() && !queue_->filter().matches(headers)))) {
    settle_unwanted(a, d, q.hints.skipped);
    return Admission::kSettled;
  }
  if (first_dispatch && config.dedup_window.count() > 0 && !found[kReplayedMark]) {
    const std::optional<std::string_view>& id = found[kId];
    const int64_t window = std::chrono::nanoseconds(config.dedup_window).count();
    if (id && seen_recently(q, id_hash(*id), now_ns, window)) {
      settle_unwanted(a, d, q.hints.deduplicated);
      return Admission::kSettled;
    }
  }
  if (const std::optional<std::string_view>& at = found[kExpires]) {
    const std::optional<int64_t> expires = envelope::parse_time_ns(*at);
    // The precise clock here (the caller's is coarse, a few ms behind): a responder that checks
    // the same deadline must never find expired what the queue let through.
    if (expires && *expires <= base::realtime_ns()) {
      if (config.expired == ExpiredAction::kDrop) {
        settle_unwanted(a, d, q.hints.expired);
      } else {
        const uint64_t position = a.bound->state->entry(d.seq_).position.load(std::memory_order_relaxed);
        if (dead_letter(a, d.seq_, position, d.control_, d.deadline_ns_, "expired", "")) {
          q.hints.expired.fetch_add(1, std::memory_order_relaxed);  // relaxed: statistics
        }
      }
      return Admission::kSettled;
    }
  }
  if (first_dispatch) {
    if (const std::optional<std::string_view>& at = found[kDue]) {
      const std::optional<int64_t> due = envelope::parse_time_ns(*at);
      if (due && *due > now_ns) {
        schedule_unharmed(a, d, *due);
        return Admission::kDeferred;
      }
    }
  }
  if (!config.ordering_key.empty()) {
    const std::optional<std::string_view>& key = found[kKey];
    if (key && key_in_flight(a, d.seq_, *key)) {
      give_back(a, d);
      return Admission::kDeferred;
    }
  }
  return Admission::kDeliver;
}

}  // namespace shmbus::detail
