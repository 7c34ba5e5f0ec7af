#include "topic/slots.h"

#include <string>

#include "shmbus/error.h"
#include "base/process_identity.h"

namespace shmbus::topic {
namespace {

bool occupied(uint64_t owner) noexcept { return owner != 0 && owner != kSettingUp; }

// Takes slot `slot` from `seen` (free or dead) to kSettingUp. Exactly one taker wins.
template <class Slot>
bool take(Slot& slot, uint64_t seen) noexcept {
  // Acquire: we read the previous owner's counters to retire them.
  return slot.owner.compare_exchange_strong(seen, kSettingUp, std::memory_order_acquire,
                                            std::memory_order_relaxed);
}

void raise_high_water(std::atomic<uint32_t>& high_water, uint32_t index) noexcept {
  uint32_t seen = high_water.load(std::memory_order_relaxed);
  // Release: a scanner that sees the new high water also sees the slot's owner word.
  while (seen <= index &&
         !high_water.compare_exchange_weak(seen, index + 1, std::memory_order_release, std::memory_order_relaxed)) {
  }
}

// Finds a slot that is free or whose owner is dead and takes it; returns its index or -1.
template <class Slot, size_t N>
int take_any(Slot (&slots)[N]) noexcept {
  for (int pass = 0; pass < 2; ++pass) {  // free slots first; dead owners' only if none is free
    for (uint32_t i = 0; i < N; ++i) {
      uint64_t owner = slots[i].owner.load(std::memory_order_acquire);
      bool candidate = pass == 0 ? owner == 0 : occupied(owner) && !base::owner_alive(owner);
      if (candidate && take(slots[i], owner)) return static_cast<int>(i);
    }
  }
  return -1;
}

void retire_subscriber_counts(TopicMeta& meta, SubscriberSlot& s) noexcept {
  // Relaxed: statistics only.
  meta.counters.retired_lost.fetch_add(s.lost.load(std::memory_order_relaxed), std::memory_order_relaxed);
  s.lost.store(0, std::memory_order_relaxed);
  s.received.store(0, std::memory_order_relaxed);
}

}  // namespace

SlotHandle attach_publisher(TopicMeta& meta, const char* topic) {
  int index = take_any(meta.publishers);
  if (index < 0) {
    throw Error(std::string("topic ") + topic + ": all " + std::to_string(kMaxPublishers) +
                " publisher slots are held by live processes; close some publishers", ErrorKind::kFull);
  }
  PublisherSlot& s = meta.publishers[index];
  // Relaxed: statistics only; the previous owner is gone.
  meta.counters.retired_published.fetch_add(s.published.load(std::memory_order_relaxed), std::memory_order_relaxed);
  meta.counters.retired_bytes.fetch_add(s.bytes.load(std::memory_order_relaxed), std::memory_order_relaxed);
  s.published.store(0, std::memory_order_relaxed);
  s.bytes.store(0, std::memory_order_relaxed);
  s.abandoned.store(0, std::memory_order_relaxed);
  s.intent.store(kNoIntent, std::memory_order_relaxed);
  SlotHandle h{static_cast<uint32_t>(index), base::self_token(), 0};
  // Release: publishes the reset fields with the owner. SYNC: pub-slot (attach) — pairs with live_claimant().
  s.owner.store(h.owner, std::memory_order_release);
  raise_high_water(meta.counters.publisher_high_water, h.index);
  return h;
}

void detach_publisher(TopicMeta& meta, const SlotHandle& slot) noexcept {
  PublisherSlot& s = meta.publishers[slot.index];
  s.intent.store(kNoIntent, std::memory_order_relaxed);
  uint64_t expected = slot.owner;
  // Release: our final counters are visible to whoever retires them.
  s.owner.compare_exchange_strong(expected, 0, std::memory_order_release, std::memory_order_relaxed);
}

void take_single_publisher(TopicMeta& meta, const char* topic) {
  const uint64_t self = base::self_token();
  // Relaxed: the CAS below decides; this read only picks what to expect.
  uint64_t holder = meta.counters.single_publisher.load(std::memory_order_relaxed);
  for (;;) {
    if (holder != 0 && (holder == self || base::owner_alive(holder))) {
      throw Error(std::string("topic ") + topic + " takes a single publisher, and process " +
                      std::to_string(base::token_pid(holder)) + (holder == self ? " (this one)" : "") +
                      " has it; close that publisher first, or create the topic without single_publisher",
                  ErrorKind::kInUse);
    }
    // Acq_rel: acquire pairs with the release of the previous holder (its last tail store is
    // then visible to our read_tail_exact()); release publishes nothing in particular.
    if (meta.counters.single_publisher.compare_exchange_weak(holder, self, std::memory_order_acq_rel,
                                                             std::memory_order_relaxed)) {
      return;
    }
  }
}

void release_single_publisher(TopicMeta& meta) noexcept {
  uint64_t self = base::self_token();
  // Release: our last stores (tail, pairs) before the next holder's acquire.
  meta.counters.single_publisher.compare_exchange_strong(self, 0, std::memory_order_release, std::memory_order_relaxed);
}

SlotHandle attach_subscriber(TopicMeta& meta, const char* topic, uint64_t position, bool follows_registry) {
  int index = take_any(meta.subscribers);
  if (index < 0) {
    throw Error(std::string("topic ") + topic + ": all " + std::to_string(kMaxSubscribers) +
                " subscriber slots are held by live processes; close some subscribers", ErrorKind::kFull);
  }
  SubscriberSlot& s = meta.subscribers[index];
  retire_subscriber_counts(meta, s);
  SlotHandle h{static_cast<uint32_t>(index), base::self_token(), 0};
  // Relaxed: published by the owner store below.
  h.generation = s.generation.fetch_add(1, std::memory_order_relaxed) + 1;
  s.position.store(position, std::memory_order_relaxed);
  s.heartbeat_ns.store(base::monotonic_ns(), std::memory_order_relaxed);
  // Relaxed: published by the owner store below (read after an acquire of the owner).
  s.follows_registry.store(follows_registry ? 1 : 0, std::memory_order_relaxed);
  // seq_cst: the position must be visible to publishers before they claim past it
  // (SYNC: sub-slot (attach) — pairs with the acquire loads in min_subscriber_position()).
  s.owner.store(h.owner, std::memory_order_seq_cst);
  raise_high_water(meta.counters.subscriber_high_water, h.index);
  // seq_cst: publishers re-scan the slots when this changes (has_space in publisher.cc).
  meta.counters.subscriber_generation.fetch_add(1, std::memory_order_seq_cst);
  return h;
}

void detach_subscriber(TopicMeta& meta, const SlotHandle& slot) noexcept {
  SubscriberSlot& s = meta.subscribers[slot.index];
  if (!still_attached(meta, slot)) return;
  uint64_t expected = slot.owner;
  // Release: a publisher that sees the slot free no longer needs our position.
  s.owner.compare_exchange_strong(expected, 0, std::memory_order_release, std::memory_order_relaxed);
}

bool still_attached(const TopicMeta& meta, const SlotHandle& slot) noexcept {
  const SubscriberSlot& s = meta.subscribers[slot.index];
  // Relaxed: our own slot; an evictor changes the owner first, and we only need to notice eventually.
  return s.owner.load(std::memory_order_relaxed) == slot.owner &&
         s.generation.load(std::memory_order_relaxed) == slot.generation;
}

uint64_t min_subscriber_position(const TopicMeta& meta, uint64_t none) noexcept {
  uint64_t lowest = none;
  uint32_t n = meta.counters.subscriber_high_water.load(std::memory_order_acquire);
  for (uint32_t i = 0; i < n && i < kMaxSubscribers; ++i) {
    const SubscriberSlot& s = meta.subscribers[i];
    // SYNC: sub-slot (read) — acquire pairs with attach_subscriber() and the subscriber's
    // position stores (release) after each poll batch.
    if (!occupied(s.owner.load(std::memory_order_acquire))) continue;
    uint64_t p = s.position.load(std::memory_order_acquire);
    if (p < lowest) lowest = p;
  }
  return lowest;
}

uint32_t evict_subscribers(TopicMeta& meta, uint64_t blocking_below, int64_t now_ns) noexcept {
  const int64_t timeout = static_cast<int64_t>(meta.config.subscriber_timeout_ns);
  uint32_t evicted = 0;
  uint32_t n = meta.counters.subscriber_high_water.load(std::memory_order_acquire);
  for (uint32_t i = 0; i < n && i < kMaxSubscribers; ++i) {
    SubscriberSlot& s = meta.subscribers[i];
    uint64_t owner = s.owner.load(std::memory_order_acquire);
    if (!occupied(owner)) continue;
    bool blocking = s.position.load(std::memory_order_acquire) < blocking_below;
    bool stale = blocking && now_ns - s.heartbeat_ns.load(std::memory_order_relaxed) > timeout;
    if (!stale && base::owner_alive(owner)) continue;
    if (!take(s, owner)) continue;  // somebody else evicted or re-attached it
    retire_subscriber_counts(meta, s);
    // Release: frees the slot; the bumped generation tells a stalled owner it was evicted.
    s.generation.fetch_add(1, std::memory_order_relaxed);
    s.owner.store(0, std::memory_order_release);
    meta.counters.evicted.fetch_add(1, std::memory_order_relaxed);
    ++evicted;
  }
  return evicted;
}

bool live_claimant(const TopicMeta& meta, uint64_t from, uint64_t to) noexcept {
  uint32_t n = meta.counters.publisher_high_water.load(std::memory_order_acquire);
  for (uint32_t i = 0; i < n && i < kMaxPublishers; ++i) {
    const PublisherSlot& s = meta.publishers[i];
    // SYNC: pub-slot (read) — the intent was published by the claim's tail CAS, which our
    // caller already read with acquire.
    uint64_t owner = s.owner.load(std::memory_order_acquire);
    // Acquire: pairs with the release that moves an intent on after a commit, so that a claim we
    // no longer see announced is committed as far as our next CAS of its pair is concerned (a
    // single publisher's commit is a plain store: nothing else would stop a void over it).
    const uint64_t intent = s.intent.load(std::memory_order_acquire);
    if (occupied(owner) && intent >= from && intent < to && base::owner_alive(owner)) return true;
    if (owner == kSettingUp) return true;  // cannot tell yet: let the timeout decide
  }
  return false;
}

uint64_t min_publisher_intent(const TopicMeta& meta, uint64_t none) noexcept {
  uint64_t lowest = none;
  uint32_t n = meta.counters.publisher_high_water.load(std::memory_order_acquire);
  for (uint32_t i = 0; i < n && i < kMaxPublishers; ++i) {
    const PublisherSlot& s = meta.publishers[i];
    // Acquire: pairs with attach_publisher()'s release of the owner. The intent is stored before
    // the claim it announces, so a claim that is not visible here lands at or after the tail.
    if (!occupied(s.owner.load(std::memory_order_acquire))) continue;
    const uint64_t intent = s.intent.load(std::memory_order_acquire);
    if (intent < lowest) lowest = intent;
  }
  return lowest;
}

uint32_t attached_publishers(const TopicMeta& meta) noexcept {
  uint32_t count = 0;
  for (const PublisherSlot& s : meta.publishers) count += occupied(s.owner.load(std::memory_order_relaxed));
  return count;
}

uint32_t attached_subscribers(const TopicMeta& meta) noexcept {
  uint32_t count = 0;
  for (const SubscriberSlot& s : meta.subscribers) count += occupied(s.owner.load(std::memory_order_relaxed));
  return count;
}

}  // namespace shmbus::topic
