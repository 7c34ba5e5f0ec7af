// Claim / commit / abort: the writer's side of the record protocol, for any Storage.
//
// The TAIL arbitrates claims; the frame's CLAIM PAIR {commit word, seq} is written once, when the
// record is complete. So the line a reader spins on is touched once per record (layout 5; the
// measurements that led here: docs/design.md, "The latency bar").
//
//   1. t = tail (position p, seq s)                     read_tail_fast()
//   2. intent slot = p                                  lets an unblocker find the owner (pid)
//   3. CAS tail {p, s} -> {p + frame, s + 1}            THE CLAIM; failure -> 1 with the new tail
//   4. caller writes header fields (bytes 16..31) and payload; never the pair
//   5. CAS pair(p): leftovers -> {{+len, DATA, epoch(p)}, s}   THE COMMIT
// The leftovers (whatever an earlier lap left at p) are read right before the commit: read
// earlier, the load would hold up the claim's locked instruction for a whole cache-line trip.
// A claim that does not fit before the end of the lap claims the rest of the lap as padding
// ({p, s} -> {lap end, s}), writes the padding's pair at once and starts again at the next lap.
// Between 3 and 5 the frame carries no length: a reader sees "nothing yet" there, and finds out
// that it is a claim only from the tail. If the claimer dies there, an unblocker learns the
// frame's extent from the next element of the chain of tail values (log/abandoned_claim.h) and
// voids it with the same kind of CAS: exactly one of commit and void wins. A commit that finds
// a void of this lap (or the poison a void leaves inside itself) where leftovers should be gives up.
// Protocol spec: docs/format.md section 5 and 11.1-11.2.
#pragma once

#include <atomic>
#include <cstdint>

#include "base/kill_point.h"
#include "log/record_format.h"
#include "log/tail.h"
#include "log/void_frames.h"
#include "shmbus/error.h"

namespace shmbus::log {

struct ClaimedFrame {
  uint64_t position = 0;
  uint64_t seq = 0;
  std::byte* frame = nullptr;
  uint64_t committed_word = 0;  // {+len, DATA, flags, epoch}: what commit() writes
};

// Seq advance for a frame, decided from its word alone so that every reader agrees: a DATA claim
// consumes a seq even if it is later voided (aborted or unblocked); padding at a lap end does not.
inline uint64_t seq_step(CommitWord w) noexcept {
  return (w.type == kTypeData || (w.flags & kFlagVoided)) ? 1 : 0;
}

// Asks for the frame's cache lines in exclusive state: readers hold them shared from the last
// lap, and one ownership transfer at a time would serialise the fill and the commit.
inline void prefetch_for_write(const std::byte* frame, uint64_t bytes) noexcept {
  constexpr uint64_t kMaxLines = 4;  // a short record's lines; a long one streams anyway
  for (uint64_t off = 0; off < bytes && off < kMaxLines * 64; off += 64) {
#if defined(__x86_64__)
    // PREFETCHW (0F 0D /1): a no-op on the few x86-64 CPUs without it, never a fault.
    asm volatile("prefetchw %0" : : "m"(*(frame + off)));
#else
    __builtin_prefetch(frame + off, 1, 3);
#endif
  }
}

// True if `seen`, found where the claim of seq `seq` in lap `epoch` is to write its pair, is an
// unblocker's work rather than an earlier lap's leftovers: the poison, or padding of this lap
// with a seq of this stretch of claims. (Leftovers are earlier laps' pairs, or payload bytes, which
// would have to match epoch, type, flags and a seq within 2^32 of ours.)
inline bool voided_by_unblocker(ClaimPair seen, uint16_t epoch, uint64_t seq) noexcept {
  if (seen == poison_pair(epoch)) return true;
  const bool padding_of_this_lap = seen.word.claimed_in(epoch) && seen.word.len > 0 && seen.word.type == kTypePadding;
  const uint64_t distance = seen.seq > seq ? seen.seq - seq : seq - seen.seq;
  return padding_of_this_lap && distance < (1ull << 32);
}

// Writes the pair of our claim over the leftovers, unless an unblocker got there first.
// SYNC: claim-pair (publish) — cas_pair() is a full barrier; pairs with load_pair().
inline bool write_pair_unless_voided(std::byte* frame, ClaimPair mine) noexcept {
  ClaimPair seen = load_pair(frame, std::memory_order_relaxed);
  for (;;) {
    if (voided_by_unblocker(seen, mine.word.epoch, mine.seq)) return false;
    if (cas_pair(frame, seen, mine)) return true;  // on failure `seen` is what is there now
  }
}

// True if the tail `now` is more than a lap past `claimed_at`: bytes we claimed belong to a newer lap.
template <class Storage>
bool lapped_since(uint64_t now, uint64_t claimed_at, const Storage& log) noexcept {
  return log.reuses_space() && now - claimed_at > log.lap_bytes();
}

// Claims a frame for a record of `record_len` bytes (header included). `has_space(end)` says
// whether the log may grow to `end` (backpressure); `intent` is the publisher's slot word.
// Never blocks: returns kWouldBlock when has_space refuses, kStorage when a journal segment
// cannot be made.
template <class Storage, class HasSpace>
Result<void> claim(const Storage& log, Tail& tail, std::atomic<uint64_t>& intent, int32_t record_len,
           uint8_t flags, HasSpace&& has_space, ClaimedFrame& out) noexcept {
  const uint64_t frame = align_frame(static_cast<size_t>(record_len));
  TailValue t = read_tail_fast(tail);
  for (;;) {
    const uint64_t room = log.room(t.position);
    const bool pad = frame > room;
    if (!has_space(t.position + (pad ? room + frame : frame))) return Errc::kWouldBlock;
    std::byte* f = log.frame(t.position);
    if (f == nullptr) {
      // A journal segment that could not be made; or our tail is so stale that retention
      // removed its segment: then the tail has moved on.
      const TailValue now = read_tail_fast(tail);
      if (now.position == t.position) return Errc::kStorage;
      t = now;
      continue;
    }
    prefetch_for_write(f, pad ? kRecordAlign : frame);
    // Relaxed: the tail CAS below (a full barrier) publishes it to an unblocker, which reads the
    // tail before the intents.
    intent.store(t.position, std::memory_order_relaxed);
    const TailValue claimed_at = t;
    SHMBUS_KILL_POINT("claim.before_tail");
    // THE CLAIM. SYNC: tail (advance) — pairs with read_tail_fast() and the unblocker's tail read.
    if (!cas_tail(tail, t, pad ? TailValue{t.position + room, t.seq} : TailValue{t.position + frame, t.seq + 1})) {
      continue;  // t holds the tail that beat us
    }
    SHMBUS_KILL_POINT("claim.after_tail");
    const uint16_t epoch = log.epoch(claimed_at.position);
    if (pad) {
      SHMBUS_KILL_POINT("claim.padding");
      // Padding is complete as claimed. Unless an unblocker wrote it first (the same pair).
      write_pair_unless_voided(f, {CommitWord{static_cast<int32_t>(room), kTypePadding, 0, epoch}, claimed_at.seq});
      t = {claimed_at.position + room, claimed_at.seq};
      continue;
    }
    out = {claimed_at.position, claimed_at.seq, f, CommitWord{record_len, kTypeData, flags, epoch}.encode()};
    return {};
  }
}

// The claim of a topic's only publisher, which knows the tail (`tail_value`, kept between
// calls) and so needs no CAS: the same steps as claim() with plain stores. Nobody else claims,
// and no unblocker voids a frame while its claimer lives (topic/stuck_claims.cc), so nothing
// can come between. Protocol spec: docs/format.md section 5.1.
template <class Storage, class HasSpace>
Result<void> claim_single(const Storage& log, Tail& tail, TailValue& tail_value, std::atomic<uint64_t>& intent,
                          int32_t record_len, uint8_t flags, HasSpace&& has_space, ClaimedFrame& out) noexcept {
  const uint64_t frame = align_frame(static_cast<size_t>(record_len));
  for (;;) {
    const TailValue t = tail_value;
    const uint64_t room = log.room(t.position);
    const bool pad = frame > room;
    if (!has_space(t.position + (pad ? room + frame : frame))) return Errc::kWouldBlock;
    std::byte* f = log.frame(t.position);
    if (f == nullptr) return Errc::kStorage;  // a journal segment that could not be made
    prefetch_for_write(f, pad ? kRecordAlign : frame);
    // Relaxed: the tail's release store below publishes it to an unblocker, which reads the tail
    // (acquire) before the intents.
    intent.store(t.position, std::memory_order_relaxed);
    SHMBUS_KILL_POINT("claim.before_tail");
    tail_value = pad ? TailValue{t.position + room, t.seq} : TailValue{t.position + frame, t.seq + 1};
    store_tail(tail, tail_value);  // THE CLAIM
    SHMBUS_KILL_POINT("claim.after_tail");
    const uint16_t epoch = log.epoch(t.position);
    if (pad) {
      SHMBUS_KILL_POINT("claim.padding");
      store_pair(f, {CommitWord{static_cast<int32_t>(room), kTypePadding, 0, epoch}, t.seq});
      continue;
    }
    out = {t.position, t.seq, f, CommitWord{record_len, kTypeData, flags, epoch}.encode()};
    return {};
  }
}

// The only publisher's commit and abort: plain stores of the pair (store_pair()).
inline void commit_single(const ClaimedFrame& c) noexcept {
  SHMBUS_KILL_POINT("commit.before");
  store_pair(c.frame, {CommitWord::decode(c.committed_word), c.seq});
}
inline void abort_claim_single(const ClaimedFrame& c) noexcept {
  const CommitWord w = CommitWord::decode(c.committed_word);
  store_pair(c.frame, voided_pair(w.frame_bytes(), w.epoch, c.seq, true));
}

// THE COMMIT: one 16-byte CAS of the pair (cmpxchg16b: a full barrier, i.e. seq_cst; the
// publisher then reads the sleeper count, and the subscriber's sleeper registration + pair
// re-check must not both miss: Dekker, topic/wakeup.h). SYNC: claim-pair (publish) — pairs with
// read.h:load_pair(). kAbandoned: an unblocker voided the frame first.
inline Result<void> commit(const ClaimedFrame& c) noexcept {
  SHMBUS_KILL_POINT("commit.before");
  if (write_pair_unless_voided(c.frame, {CommitWord::decode(c.committed_word), c.seq})) return {};
  return Errc::kAbandoned;
}

// Gives up the claim (the owner's abort): the frame becomes voided padding, unless an unblocker
// voided it already.
inline void abort_claim(const ClaimedFrame& c) noexcept {
  const CommitWord w = CommitWord::decode(c.committed_word);
  write_pair_unless_voided(c.frame, voided_pair(w.frame_bytes(), w.epoch, c.seq, true));
}

}  // namespace shmbus::log
