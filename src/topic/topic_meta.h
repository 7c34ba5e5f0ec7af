// The `meta` file of a topic: configuration, tail, wake-up words, counters, publisher and
// subscriber slots. Offsets only, no pointers; every hot word on its own pair of cache lines.
//
//   FileHeader + TopicConfigBlock          (written once at creation, then read-only)
//   Tail {position, seq}                   (claimers; 16-byte CAS, or the single publisher's store)
//   Wakeup: data futex + sleepers          (subscribers sleep, publishers wake)
//   Wakeup: space futex + sleepers         (block-policy publishers sleep, subscribers wake)
//   Counters                               (slow-path RMWs only)
//   FlushState, base::Wakeup flushed, JournalState (journal topics)
//   PublisherSlot[kMaxPublishers]          (128 bytes each)
//   SubscriberSlot[kMaxSubscribers]        (128 bytes each)
// Each from a 128-byte boundary on.
// Protocol spec: docs/format.md section 4.5.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "base/futex.h"
#include "log/file_header.h"
#include "log/record_format.h"
#include "log/storage_state.h"
#include "log/tail.h"

namespace shmbus::topic {

inline constexpr uint32_t kMaxPublishers = 64;
inline constexpr uint32_t kMaxSubscribers = 128;
inline constexpr size_t kMaxNameBytes = 200;
inline constexpr size_t kMaxDataDirBytes = 512;  // a journal's segment directory, NUL-terminated
inline constexpr uint64_t kNoIntent = ~0ull;
inline constexpr uint64_t kSettingUp = ~0ull;  // owner value while a slot is being (re)initialised

struct TopicConfigBlock {
  uint32_t kind;  // TopicKind
  uint32_t policy;  // Policy
  uint64_t capacity;
  uint64_t unblock_timeout_ns;
  uint64_t subscriber_timeout_ns;
  int64_t created_ns;  // activity clocks start here, never at 0
  char name[kMaxNameBytes + 8];
  uint64_t segment_bytes;  // journal topics
  uint32_t fsync;          // FsyncPolicy
  uint32_t fsync_interval_ms;
  char data_dir[kMaxDataDirBytes];
  uint64_t retain_bytes;   // journal retention: 0 = keep everything
  uint64_t retain_age_ms;
  // 1: one publisher at a time (Counters::single_publisher holds it), which claims and commits
  // by plain stores (log/claim.h: claim_single); 0: any number, by CAS.
  uint32_t single_publisher;
};

struct alignas(log::kHotPad) Counters {
  std::atomic<uint64_t> unblocked;          // frames voided by an unblocker
  std::atomic<uint64_t> evicted;            // subscriber slots taken from dead/stale owners
  std::atomic<uint64_t> retired_published;  // published/bytes/lost of slots whose owner left
  std::atomic<uint64_t> retired_bytes;
  std::atomic<uint64_t> retired_lost;
  std::atomic<uint64_t> subscriber_generation;  // bumped when a subscriber attaches
  std::atomic<uint32_t> publisher_high_water;   // slots [0, high water) have ever been used:
  std::atomic<uint32_t> subscriber_high_water;  // scans stop there
  // 1 once the topic has been removed (bus/topic_removal.cc): its directory is gone, and a
  // process that still maps this meta must not hand it out for the name any more.
  // SYNC: topic removed (mark) release — pairs with the acquire in TopicHandle::removed().
  std::atomic<uint32_t> removed;
  // Single-publisher topics: the token of the process whose publisher holds the topic, 0 when
  // free; taken from a dead holder by CAS. SYNC: single publisher (take) acq_rel — pairs with
  // its release in release_single_publisher().
  std::atomic<uint64_t> single_publisher;
};
static_assert(sizeof(Counters) == log::kHotPad);

// An owner is a process identity token: pid | (start time in clock ticks, low 32 bits) << 32,
// so that a reused pid is not mistaken for the process that held the slot. 0 = free.
struct alignas(log::kHotPad) PublisherSlot {
  std::atomic<uint64_t> owner;
  std::atomic<uint64_t> intent;     // position being claimed (kNoIntent when none)
  std::atomic<uint64_t> published;  // written by the owner only (load + store, no RMW)
  std::atomic<uint64_t> bytes;
  std::atomic<uint64_t> abandoned;  // own claims that were unblocked before commit
};

struct alignas(log::kHotPad) SubscriberSlot {
  std::atomic<uint64_t> owner;
  std::atomic<uint64_t> generation;    // bumped on every attach: an evicted owner notices
  std::atomic<uint64_t> position;      // everything before it has been read
  std::atomic<int64_t> heartbeat_ns;   // CLOCK_MONOTONIC of the last poll or wait
  std::atomic<uint64_t> received;
  std::atomic<uint64_t> lost;
  // 1: attached through a pattern subscriber, which follows the registry and detaches the topic
  // by itself when it is removed, so it does not hold the topic against removal.
  std::atomic<uint32_t> follows_registry;
};

struct TopicMeta {
  log::FileHeader file;
  TopicConfigBlock config;
  alignas(log::kHotPad) log::Tail tail;
  base::Wakeup data;
  base::Wakeup space;
  Counters counters;
  // The storage's own words (log::StorageWords points at them).
  log::FlushState flush;
  base::Wakeup flushed;
  log::JournalState journal;
  PublisherSlot publishers[kMaxPublishers];
  SubscriberSlot subscribers[kMaxSubscribers];
};
static_assert(offsetof(TopicMeta, tail) % log::kHotPad == 0);
static_assert(sizeof(PublisherSlot) == log::kHotPad && sizeof(SubscriberSlot) == log::kHotPad);
static_assert(std::atomic<uint32_t>::is_always_lock_free && std::atomic<int64_t>::is_always_lock_free);

}  // namespace shmbus::topic
