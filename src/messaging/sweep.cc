// The sweep: leases of dead consumers and expired leases go back; READY entries below D are
// counted so takers look for them; the earliest due time is noted.
#include <algorithm>

#include "base/kill_point.h"
#include "base/process_identity.h"
#include "messaging/consumer_impl.h"

namespace shmbus::detail {
using messaging::Control;
using messaging::EntryPair;
using messaging::EntryState;
using messaging::QueueFile;

namespace {
constexpr int64_t kSweepEveryNs = 10'000'000;  // a dead consumer's leases go back within ~this

// Whose leases are void: a free slot, or one whose owner died. Asked once per slot per sweep.
class OwnerCheck {
 public:
  OwnerCheck(const QueueFile& q, uint32_t taken_over) : q_(q), taken_over_(taken_over) {}
  // The slot's owner is reloaded on every use (a slot found free may be attached, and lease,
  // while the sweep goes on); the liveness verdict is cached per owner token.
  bool gone(uint8_t slot) noexcept {
    if (slot == taken_over_) return true;
    // Acquire: pairs with the owner CAS in attach() and the release in release_all(); it is read
    // after the entry, so a lease made by a newly attached owner is judged by that owner.
    const uint64_t owner = q_.consumers[slot].owner.load(std::memory_order_acquire);
    if (owner == 0) return true;
    if (token_[slot] != owner) {
      token_[slot] = owner;
      dead_[slot] = !base::owner_alive(owner);
    }
    return dead_[slot];
  }

 private:
  const QueueFile& q_;
  uint32_t taken_over_;
  uint64_t token_[messaging::kMaxConsumers + 1] = {};
  bool dead_[messaging::kMaxConsumers + 1] = {};
};
}  // namespace

void ConsumerImpl::sweep(size_t i, int64_t now_ns, bool force, uint32_t taken_over) noexcept {
  Attached& a = attached_[i];
  messaging::QueueFileHandle& state = *a.bound->state;
  QueueFile& q = state.file();
  const int64_t mono = base::coarse_monotonic_ns();  // a rate limit of ~10 ms: coarse is enough
  // Relaxed: who sweeps is decided by the CAS; a sweep more or less changes no outcome.
  int64_t last = q.hints.last_sweep_ns.load(std::memory_order_relaxed);
  // A timestamp from before a reboot is in the future of this boot's monotonic clock: sweep.
  if (!force && ((mono >= last && mono - last < kSweepEveryNs) ||
                 !q.hints.last_sweep_ns.compare_exchange_strong(last, mono, std::memory_order_relaxed))) {
    return;
  }
  OwnerCheck owners(q, taken_over);
  uint64_t ready = 0;
  int64_t next_due = INT64_MAX;
  const uint64_t d = q.dispatch.seq.load(std::memory_order_acquire);
  for (uint64_t s = q.frontier.seq.load(std::memory_order_acquire); s < d; ++s) {
    EntryPair p = messaging::load_entry(state.entry(s));
    const Control c = Control::decode(p.control);
    if (c.lap != state.lap_of(s)) continue;
    if (c.state == EntryState::kReady) ++ready;
    if (c.state == EntryState::kScheduled) next_due = std::min(next_due, p.time);
    if (c.state != EntryState::kLeased || (p.time > now_ns && !owners.gone(c.owner))) continue;
    // The lease is void: its consumer died, or stalled past its lease. Its handling had begun,
    // so the attempt counts. We take the lease ourselves first (a CAS16 that bumps the epoch,
    // fencing the old holder), then give the record back or dead-letter it.
    Control ours = c;
    ours.owner = static_cast<uint8_t>(a.slot);
    ++ours.epoch;
    const int64_t deadline = now_ns + q.header.lease_ns;
    if (!messaging::cas_entry(state.entry(s), p, {ours.encode(), deadline})) continue;
    SHMBUS_KILL_POINT("queue.sweep.took_void_lease");
    const uint32_t failed = static_cast<uint32_t>(c.attempts) + 1;
    if (failed >= q.header.max_deliveries) {
      const uint64_t position = state.entry(s).position.load(std::memory_order_relaxed);
      const char* why = owners.gone(c.owner) ? "its consumer died while handling it" : "its lease expired";
      static_cast<void>(dead_letter(a, s, position, ours.encode(), deadline, "delivery_limit", why));
      continue;
    }
    Control back = ours;
    back.state = EntryState::kReady;
    back.owner = 0;
    back.started = false;
    back.attempts = static_cast<uint8_t>(failed);
    EntryPair held{ours.encode(), deadline};
    if (messaging::cas_entry(state.entry(s), held, {back.encode(), 0})) ++ready;
  }
  // Relaxed: hints for takers (take_redelivery()); they read the entries themselves.
  q.hints.redeliverable.store(ready, std::memory_order_relaxed);
  q.hints.next_due_ns.store(next_due, std::memory_order_relaxed);
  advance_frontier(a);
}

}  // namespace shmbus::detail
