// The state file of one queue on one journal topic: `<topic data dir>/queues/<queue>`, beside
// the segments, so it survives whatever they survive. No daemon owns it: every consumer of the
// queue maps it read-write and moves records through it with compare-and-swaps; any of them
// may die at any instruction. The records themselves stay in the topic's log: an entry points
// at its record, it is never a copy (retries and delays cannot lose what they point at).
//
//   0      FileHeader (32)
//   128    QueueHeader: config (max deliveries, lease, backoff), window size        (read-only)
//   256    Frontier    F: the seq below which every record is settled         (CAS, hot)
//   384    Dispatch    D: {position, seq} of the next record never handed out (16-byte CAS, hot)
//   512    Hints       redeliverable count, next due time, counters           (RMWs)
//   640    ConsumerSlot[kMaxConsumers]   (64 bytes each: owner token, heartbeat)
//   ...    Entry[window]                 (32 bytes each, one per seq in [F, F + window))
//   ...    DedupSlot[kDedupSlots]        (16 bytes each: message-id hash, dispatch time)
//
// Entry of seq s sits at index s % window. Its first 16 bytes {control, time} change together
// with one 16-byte CAS (base::cas16); `position` is written before the entry can be taken.
//
//   control: state:4 | started:1 | owner:8 | attempts:8 | lap:11 | epoch:32
//     state READY      deliverable now (time: unused)
//           LEASED     held by consumer `owner` until `time` (CLOCK_REALTIME ns); `started`
//                      once its handler began (a crash charges an attempt only then)
//           SCHEDULED  deliverable from `time` on (a retry's backoff, a nack's delay)
//           ACKED / DEAD / SKIPPED   settled (acked; dead-lettered; not for this queue)
//     lap    (s / window) & 0x7FF: an entry of an earlier lap is never mistaken for this one
//     epoch  bumped on every lease: a late ack of an older lease fails (fencing)
//   time:    lease deadline or due time, CLOCK_REALTIME ns (survives a reboot); in an entry
//            reset for its next lap, the EntryState it was settled as (for F's counts)
//   position the record's byte position in the topic's log
//
// SYNC: entry (take)    READY/SCHEDULED/expired -> LEASED: CAS16, seq_cst (full barrier).
// SYNC: entry (settle)  LEASED(epoch e) -> ACKED/SCHEDULED/DEAD: CAS16 expecting epoch e.
// SYNC: frontier        F moves past a settled entry after resetting it for seq s + window
//                       (CAS16 from the settled value seen, so a slow advancer resets nothing
//                       newer); F's CAS16 {seq, counts} is seq_cst and dispatchers load F.seq
//                       with acquire.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "base/cache_line.h"
#include "log/file_header.h"
#include "log/tail.h"

namespace shmbus::messaging {

inline constexpr uint32_t kMaxConsumers = 255;  // owner 0 means none
inline constexpr uint64_t kDefaultWindow = 1u << 16;
inline constexpr size_t kQueueNameBytes = 200;

enum class EntryState : uint8_t { kReady = 0, kLeased = 1, kScheduled = 2, kAcked = 3, kDead = 4, kSkipped = 5 };

// The control word of an entry, decoded.
struct Control {
  EntryState state = EntryState::kReady;
  bool started = false;
  uint8_t owner = 0;      // consumer slot + 1; 0: none
  uint8_t attempts = 0;   // failed deliveries so far
  uint16_t lap = 0;       // 11 bits
  uint32_t epoch = 0;

  static constexpr uint64_t kLapMask = 0x7FF;
  uint64_t encode() const noexcept {
    return static_cast<uint64_t>(state) | static_cast<uint64_t>(started) << 4 | static_cast<uint64_t>(owner) << 5 |
           static_cast<uint64_t>(attempts) << 13 | (static_cast<uint64_t>(lap) & kLapMask) << 21 |
           static_cast<uint64_t>(epoch) << 32;
  }
  static Control decode(uint64_t w) noexcept {
    return {static_cast<EntryState>(w & 0xF), ((w >> 4) & 1) != 0, static_cast<uint8_t>(w >> 5),
            static_cast<uint8_t>(w >> 13), static_cast<uint16_t>((w >> 21) & kLapMask), static_cast<uint32_t>(w >> 32)};
  }
  // The control of an entry waiting for its first delivery in lap `lap`.
  static Control fresh(uint16_t lap) noexcept { return {EntryState::kReady, false, 0, 0, lap, 0}; }
  bool settled() const noexcept {
    return state == EntryState::kAcked || state == EntryState::kDead || state == EntryState::kSkipped;
  }
};

struct alignas(16) Entry {
  std::atomic<uint64_t> control;
  std::atomic<int64_t> time;
  std::atomic<uint64_t> position;
  uint64_t reserved;
};
static_assert(sizeof(Entry) == 32 && offsetof(Entry, time) == 8 && offsetof(Entry, position) == 16);

struct QueueHeader {
  log::FileHeader file;
  char name[kQueueNameBytes + 8];
  char topic[kQueueNameBytes + 8];
  uint64_t window;              // entries; a power of two
  uint32_t max_deliveries;      // failed attempts before dead-lettering (1..255)
  uint32_t reserved;
  int64_t lease_ns;
  int64_t retry_min_ns;
  int64_t retry_max_ns;
  double retry_factor;
  double retry_jitter;          // 0..1: each delay is scaled by a uniform factor in [1-j, 1+j]
  int64_t created_ns;
};

// F and the settlements it has passed, changed together by one CAS16, so the counts are exact
// even when an advancer is killed at any instruction.
struct alignas(base::kHotPad) Frontier {
  std::atomic<uint64_t> seq;     // every seq below it is settled
  std::atomic<uint64_t> counts;  // acked (low 40 bits) | dead-lettered (high 24 bits) below seq
};
inline constexpr uint64_t kAckedMask = (1ull << 40) - 1;

struct alignas(base::kHotPad) Hints {
  std::atomic<uint64_t> redeliverable;  // entries set READY below D since the last sweep (a hint)
  std::atomic<int64_t> next_due_ns;     // earliest SCHEDULED time (a hint; INT64_MAX: none)
  std::atomic<int64_t> last_sweep_ns;   // CLOCK_MONOTONIC of the last sweep (any process)
  // Events counted after their CAS (a consumer killed in between misses one); acked and
  // dead-lettered are exact in Frontier::counts instead.
  std::atomic<uint64_t> nacked;
  std::atomic<uint64_t> redelivered;
  std::atomic<uint64_t> skipped;
  std::atomic<uint64_t> expired;
  std::atomic<uint64_t> deduplicated;
  std::atomic<uint64_t> lost;  // records a ring overwrote or retention deleted before the queue settled them
  // Single-active queues: the consumer that takes deliveries, slot | slot generation << 8
  // (0: none); taken by CAS from 0 or from a slot whose owner died or changed.
  // SYNC: active consumer — acq_rel CAS; pairs with the release that frees it (release_all()).
  std::atomic<uint64_t> active;
};
static_assert(sizeof(Hints) == base::kHotPad);

struct alignas(64) ConsumerSlot {
  std::atomic<uint64_t> owner;         // process token (base::self_token), 0 = free
  std::atomic<int64_t> heartbeat_ns;   // CLOCK_MONOTONIC
  std::atomic<uint64_t> generation;    // bumped on every attach
};
static_assert(sizeof(ConsumerSlot) == 64);

struct QueueFile {
  alignas(base::kHotPad) QueueHeader header;
  Frontier frontier;
  // D: {position, seq} of the next record never handed out; shaped as a log tail, moved and
  // read the same way (log/tail.h: cas_tail, read_tail_fast).
  alignas(base::kHotPad) log::Tail dispatch;
  Hints hints;
  ConsumerSlot consumers[kMaxConsumers + 1];  // [0] unused: owner 0 means none
  // Entry entries[window] follows.
};
static_assert(offsetof(QueueFile, frontier) % base::kHotPad == 0 && offsetof(QueueFile, dispatch) % 16 == 0);
static_assert(offsetof(Frontier, counts) == 8);
static_assert(sizeof(QueueFile) % 32 == 0);
static_assert(std::atomic<uint64_t>::is_always_lock_free && std::atomic<int64_t>::is_always_lock_free);

// The dedup table: open addressing by the message-id's hash (never 0), probed linearly from
// hash % kDedupSlots for kDedupProbes slots. A slot whose time is older than the queue's dedup
// window is free for reuse. {hash, time} change together by one CAS16.
struct alignas(16) DedupSlot {
  std::atomic<uint64_t> hash;
  std::atomic<int64_t> time;  // CLOCK_REALTIME ns of the dispatch that recorded it
};
static_assert(sizeof(DedupSlot) == 16);
inline constexpr uint64_t kDedupSlots = 1u << 16;
inline constexpr uint64_t kDedupProbes = 32;

inline Entry* entries_of(QueueFile& q) noexcept {
  return reinterpret_cast<Entry*>(reinterpret_cast<std::byte*>(&q) + sizeof(QueueFile));
}
inline DedupSlot* dedup_of(QueueFile& q) noexcept {
  return reinterpret_cast<DedupSlot*>(entries_of(q) + q.header.window);
}
inline size_t queue_file_bytes(uint64_t window) noexcept {
  return sizeof(QueueFile) + window * sizeof(Entry) + kDedupSlots * sizeof(DedupSlot);
}

}  // namespace shmbus::messaging
