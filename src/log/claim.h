// Claim / commit / abort: the writer's side of the record protocol, for any Storage.
//
// A claim first takes the frame's CLAIM PAIR {commit word, seq}, then advances the tail. Because
// the pair is taken before the tail moves, a frame past the tail always carries its own length:
// whoever finds the tail behind a claimed frame can advance it (helping), and an unblocker always
// knows how big an abandoned frame is. There is no instant at which a crash leaves a gap of
// unknown size.
//
//   1. t = tail (position p, seq s)                     read_tail_fast()
//   2. pair(p) = {word claimed in p's epoch, s}?  yes: help -> 1   the claimer died or is slow
//   3. intent slot = p                                  lets an unblocker find the owner (pid)
//   4. CAS pair(p): leftovers -> {{-len, DATA, epoch(p)}, s}   THE CLAIM; failure -> 1
//   5. caller writes header fields and payload
//   6. CAS word {-len, DATA} -> {+len, DATA}             THE COMMIT; failure = kAbandoned
//   7. CAS tail {p, s} -> {p + frame, s + 1}            release_frame(); failure = somebody helped
// Readers never wait for step 7, so its 16-byte CAS is off the publish-to-receive path; a
// publisher that dies before it leaves the tail for the next claimer to help along.
// A claim that does not fit before the end of the lap commits a PADDING frame over the rest of
// the lap (steps 4 and 7 with {{+room, PADDING}, s}) and starts again at the next lap. Step 2 needs
// the seq: a lap's frames start where the previous lap had payload, and payload can look like a
// word of any epoch, but not also carry the exact seq of the tail.
#pragma once

#include <atomic>
#include <cstdint>

#include "log/kill_point.h"
#include "log/record_format.h"
#include "log/tail.h"
#include "shmbus/error.h"

namespace shmbus::log {

struct ClaimedFrame {
  uint64_t position = 0;
  uint64_t seq = 0;
  std::byte* frame = nullptr;
  uint64_t claimed_word = 0;  // {-len, DATA, flags, epoch}: what commit() and unblock() expect
};

// Seq advance for a frame, decided from its word alone so that claimer and helpers agree:
// a DATA claim consumes a seq even if it is later voided (aborted or unblocked).
inline uint64_t seq_step(CommitWord w) noexcept {
  return (w.type == kTypeData || (w.flags & kFlagVoided)) ? 1 : 0;
}

// Moves the tail past the claimed frame at `t`. On return `t` is the tail as now known.
// Returns false if the word is nonsense (garbage storage): the caller reports kCorrupt.
template <class Storage>
bool help_advance(const Storage& log, Tail& tail, TailValue& t, CommitWord w) noexcept {
  const uint64_t frame = w.frame_bytes();
  if (frame == 0 || frame > log.room(t.position)) return false;
  TailValue next{t.position + frame, t.seq + seq_step(w)};
  if (cas_tail(tail, t, next)) t = next;  // on failure t already holds the newer tail
  return true;
}

// Asks for the frame's cache lines in exclusive state before the claim CAS stalls on the first:
// readers hold them shared from the last lap, and one ownership transfer at a time would
// serialise them (the claim CAS, then the commit CAS waiting for the payload's lines).
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

// True if the tail `now` is more than a lap past `claimed_at`: bytes we claimed belong to a newer lap.
template <class Storage>
bool lapped_since(TailValue now, TailValue claimed_at, const Storage& log) noexcept {
  return log.reuses_space() && now.position - claimed_at.position > log.lap_bytes();
}

// Undoes a claim CAS that hit a newer lap's bytes: puts back what was there, if still ours.
inline void put_back(std::byte* frame, CommitWord mine, TailValue claimed_at, ClaimPair seen) noexcept {
  ClaimPair ours{mine, claimed_at.seq};
  cas_pair(frame, ours, seen);
}

// Claims a frame for a record of `record_len` bytes (header included). `has_space(end)` says
// whether the log may grow to `end` (backpressure); `intent` is the publisher's slot word.
// Never blocks: returns kWouldBlock when has_space refuses, kCorrupt on garbage storage.
template <class Storage, class HasSpace>
Errc claim(const Storage& log, Tail& tail, std::atomic<uint64_t>& intent, int32_t record_len,
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
    const uint16_t epoch = log.epoch(t.position);
    prefetch_for_write(f, pad ? kRecordAlign : frame);
    // SYNC: claim-pair (read) — pairs with the pair CAS below in other publishers.
    ClaimPair seen = load_pair(f);
    if (seen.word.claimed_in(epoch) && seen.seq == t.seq) {
      if (!help_advance(log, tail, t, seen.word)) return Errc::kCorrupt;
      continue;
    }
    const CommitWord mine = pad ? CommitWord{static_cast<int32_t>(room), kTypePadding, 0, epoch}
                                : CommitWord{-record_len, kTypeData, flags, epoch};
    // Relaxed: the claim CAS below (a full barrier) publishes it to an unblocker reading the word.
    intent.store(t.position, std::memory_order_relaxed);
    SHMBUS_KILL_POINT("claim.before_word");
    // THE CLAIM. SYNC: claim-pair (take) — a full barrier: publishes `intent`, sees the previous
    // owner's bytes.
    if (!cas_pair(f, seen, {mine, t.seq})) {
      t = read_tail_fast(tail);
      continue;
    }
    SHMBUS_KILL_POINT("claim.after_word");
    const TailValue claimed_at = t;
    if (pad) {
      // Padding is committed as claimed: move the tail past it now, then claim at the next lap.
      if (cas_tail(tail, t, {claimed_at.position + room, claimed_at.seq})) {
        t = {claimed_at.position + room, claimed_at.seq};
      } else if (lapped_since(t, claimed_at, log)) {
        put_back(f, mine, claimed_at, seen);
      }
      continue;
    }
    // Acquire: pairs with cas_tail(). A claimer descheduled for a whole lap between reading the
    // tail and its CAS may have hit a newer lap's bytes that happened to hold `seen`.
    const TailValue now{tail.position.load(std::memory_order_acquire), 0};
    if (lapped_since(now, claimed_at, log)) {
      put_back(f, mine, claimed_at, seen);
      t = read_tail_fast(tail);
      continue;
    }
    // The tail stays at our frame until release_frame() after the commit (or a helper moves it):
    // the 16-byte tail CAS is then not between the claim and what readers wait for.
    out = {claimed_at.position, claimed_at.seq, f, mine.encode()};
    return Errc::kOk;
  }
}

// Moves the tail past a frame its claimer is done with (committed, voided or abandoned), unless
// a helper did already (then the CAS fails, harmlessly). A DATA claim always takes one seq.
inline void release_frame(Tail& tail, const ClaimedFrame& c) noexcept {
  TailValue expected{c.position, c.seq};
  cas_tail(tail, expected, {c.position + CommitWord::decode(c.claimed_word).frame_bytes(), c.seq + 1});
}

// THE COMMIT. seq_cst (a locked instruction either way on x86): the publisher then reads the
// sleeper count, and the subscriber's sleeper registration + word re-check must not both miss
// (Dekker; see topic/wakeup.h). SYNC: commit-word (publish) — pairs with read.h:read_word().
inline Errc commit(const ClaimedFrame& c) noexcept {
  CommitWord w = CommitWord::decode(c.claimed_word);
  w.len = -w.len;
  uint64_t expected = c.claimed_word;
  SHMBUS_KILL_POINT("commit.before");
  if (commit_word(c.frame).compare_exchange_strong(expected, w.encode(), std::memory_order_seq_cst,
                                                   std::memory_order_relaxed)) {
    return Errc::kOk;
  }
  return Errc::kAbandoned;  // an unblocker (or a newer lap) took the frame first
}

// Turns a claimed frame into padding that readers skip ({-len,DATA} -> {+len,PADDING,voided}).
// Used by abort() (the owner) and unblock() (anyone). Exactly one of commit/void wins.
inline bool void_frame(std::byte* frame, uint64_t claimed_word) noexcept {
  CommitWord w = CommitWord::decode(claimed_word);
  if (w.len >= 0 || w.type != kTypeData) return false;
  w.len = -w.len;
  w.type = kTypePadding;
  w.flags = static_cast<uint8_t>(w.flags | kFlagVoided);
  uint64_t expected = claimed_word;
  // Release: orders nothing of ours, but readers use the acquire load of this word uniformly.
  return commit_word(frame).compare_exchange_strong(expected, w.encode(), std::memory_order_release,
                                                    std::memory_order_relaxed);
}

}  // namespace shmbus::log
