// Queues on memory topics. The records live in a ring that publishers overwrite once every
// subscriber has passed them; a queue is no subscriber, so each of its consumers holds a
// subscriber slot of its own at the oldest record the queue still needs, the record of seq F
// (F's entry's position, or D's when everything below D is settled). Under `block` the ring's
// publishers then wait for the queue as for any subscriber, under `fail` they are refused. A
// consumer that stops calling the queue for the topic's subscriber timeout is evicted like a
// stalled subscriber: the ring may lap it, and what it overwrites is counted lost.
#include "base/futex.h"
#include "base/process_identity.h"
#include "log/tail.h"
#include "messaging/consumer_impl.h"

namespace shmbus::detail {
using messaging::Control;
using messaging::EntryPair;
using messaging::EntryState;
using messaging::QueueFile;

uint64_t ring_need(const BoundTopic& bound) noexcept {
  QueueFile& q = bound.state->file();
  // Acquire: pairs with F's seq_cst CAS16 and D's (an entry below D knows its record's position).
  const uint64_t f = q.frontier.seq.load(std::memory_order_acquire);
  const log::TailValue d = log::read_tail_fast(q.dispatch);
  if (f >= d.seq) return d.position;
  return bound.state->entry(f).position.load(std::memory_order_relaxed);
}

void ConsumerImpl::hold_ring(Attached& a) noexcept {
  topic::TopicMeta& meta = a.bound->topic->meta();
  if (!topic::still_attached(meta, a.reader)) {
    // Evicted (we stalled past the subscriber timeout): attach again where the queue is now.
    try {
      a.reader = topic::attach_subscriber(meta, a.bound->name.c_str(), ring_need(*a.bound));
    } catch (...) {
      return;  // all subscriber slots taken: the next call tries again
    }
  }
  topic::SubscriberSlot& slot = meta.subscribers[a.reader.index];
  // Relaxed: the heartbeat is judged against timeouts of seconds.
  slot.heartbeat_ns.store(base::coarse_monotonic_ns(), std::memory_order_relaxed);
  const uint64_t need = ring_need(*a.bound);
  if (slot.position.load(std::memory_order_relaxed) >= need) return;
  // seq_cst, then the space sleepers: the Dekker pair with a blocked publisher (base/futex.h).
  // SYNC: sub-slot (position) — pairs with min_subscriber_position()'s acquire loads.
  slot.position.store(need, std::memory_order_seq_cst);
  base::wake_sleepers(meta.space);
}

void ConsumerImpl::release_ring(Attached& a) noexcept {
  if (a.ring) topic::detach_subscriber(a.bound->topic->meta(), a.reader);
}

}  // namespace shmbus::detail
