// The reader's side of the record protocol: what is at a position, decided from the claim pair.
// Protocol spec: docs/format.md section 6.1.
#pragma once

#include <cstdint>

#include "log/record_format.h"
#include "log/tail.h"

namespace shmbus::log {

enum class FrameState : uint8_t {
  kEmpty,    // no record here yet: the reader is at the tail, or at a claim being filled
  kPending,  // the tail is past it, its pair is not written: a claim being filled; wait, or
             // unblock if the owner is dead or stalled (log/abandoned_claim.h)
  kData,     // a committed record
  kPadding,  // skip frame_bytes (end of lap, aborted or unblocked claim)
  kLapped,   // a newer lap overwrote this position: the reader fell a whole lap behind
  kCorrupt,  // bytes that are no valid record; nothing of them may be used
};

struct FrameView {
  FrameState state = FrameState::kEmpty;
  CommitWord word{};
  std::byte* bytes = nullptr;
  uint64_t frame_bytes = 0;
};

namespace detail {
template <class Storage>
FrameView classify(const Storage& log, uint64_t position, FrameView v) noexcept {
  v.frame_bytes = v.word.frame_bytes();
  if (v.frame_bytes == 0 || v.frame_bytes > log.room(position)) {
    v.state = FrameState::kCorrupt;
  } else if (v.word.len < 0) {
    v.state = FrameState::kCorrupt;  // no claim writes a negative length (layout 5)
  } else if (v.word.type == kTypePadding) {
    v.state = FrameState::kPadding;
  } else if (v.word.type != kTypeData ||
             header_of(v.bytes)->headers_len > static_cast<uint32_t>(v.word.len) - kHeaderBytes) {
    v.state = FrameState::kCorrupt;
  } else {
    v.state = FrameState::kData;
  }
  return v;
}
}  // namespace detail

// Reads and bounds-checks the frame at `position`, the reader's next frame start, where the
// record of seq `expected_seq` (kUnknownSeq if not known) must be. Every field that decides how
// many bytes to touch is checked against the storage before use, so garbage yields kCorrupt,
// never a wild read. A pair that is not plainly the expected record is leftovers of an earlier
// lap: nothing yet (kEmpty), or a claim whose pair is not written yet (which only the tail can
// tell: claimed_by_tail()). Only a pair that looks like this lap's or a later one's makes us read
// the tail, so a reader waiting at the tail does not touch the tail's cache line.
// SYNC: claim-pair (read) — load_pair() pairs with the commit's and the void's pair CAS.
template <class Storage>
FrameView read_frame(const Storage& log, const Tail& tail, uint64_t position, uint64_t expected_seq,
                     std::memory_order order = std::memory_order_acquire) noexcept {
  FrameView v;
  // A reader at a segment it has not mapped asks for it once the tail has passed its position
  // (nothing is claimed at or after the tail, so nothing is there yet): asking finds out whether
  // the file exists, a stat() that a reader spinning at the start of a fresh journal made at
  // every poll. Acquire: pairs with cas_tail(), the claim that made the segment.
  if (!log.mapped(position) && tail.position.load(std::memory_order_acquire) <= position) return v;
  v.bytes = log.frame(position);
  if (v.bytes == nullptr) return v;  // a journal segment not made yet: nothing written there
  const uint16_t epoch = log.epoch(position);
  ClaimPair pair = load_pair(v.bytes, order);
  if (pair.word.claimed_in(epoch) && pair.seq == expected_seq) {
    v.word = pair.word;
    return detail::classify(log, position, v);
  }
  // Epochs compare modulo 2^16: a word from a later lap means we may have been overwritten; one
  // from an earlier lap (or len 0) is just not rewritten in this lap yet.
  const bool looks_newer = pair.word.len != 0 && static_cast<int16_t>(pair.word.epoch - epoch) > 0;
  const bool looks_claimed = pair.word.claimed_in(epoch);
  if (!looks_newer && !looks_claimed) return v;  // kEmpty, without touching the tail
  // Acquire: pairs with cas_tail(), the claim.
  const uint64_t tail_position = tail.position.load(std::memory_order_acquire);
  if (tail_position <= position) return v;  // kEmpty: leftovers that happen to look claimed
  if (log.lapped(position, tail_position)) {
    v.state = FrameState::kLapped;
    return v;
  }
  pair = load_pair(v.bytes, order);
  v.word = pair.word;
  if (!pair.word.claimed_in(epoch) || (expected_seq != kUnknownSeq && pair.seq != expected_seq)) {
    v.state = FrameState::kPending;  // claimed (the tail passed it), its pair not written yet
    return v;
  }
  return detail::classify(log, position, v);
}

// True if a claim covers `position`: the tail has passed it. For a frame read as kEmpty this tells
// a claim still being filled (kPending) from the end of the log.
// SYNC: tail (read) — acquire pairs with cas_tail(), the claim.
inline bool claimed_by_tail(const Tail& tail, uint64_t position) noexcept {
  return tail.position.load(std::memory_order_acquire) > position;
}

}  // namespace shmbus::log
