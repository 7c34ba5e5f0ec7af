// The pairs an unblocker or a repair writes where claims died before their commit wrote a pair
// (layout 5; the whole story: log/abandoned_claim.h). Used by the live unblocker and by journal
// recovery, which has only bytes (no tail, no topic).
// Protocol spec: docs/format.md section 7.3 and 11.8.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>

#include "log/record_format.h"

namespace shmbus::log {

// A stretch of one lap (or segment) to void: `seqs` claims from seq `seq` on (0: one plain
// padding, a padding claim that died). Positions, or offsets in a segment's record area.
struct VoidPart {
  uint64_t position = 0;
  uint64_t end = 0;
  uint64_t seq = 0;
  uint64_t seqs = 0;
};

// The pair of a voided claim: padding that readers skip and that still takes the claim's seq.
inline ClaimPair voided_pair(uint64_t frame_bytes, uint16_t epoch, uint64_t seq, bool takes_seq) noexcept {
  return {CommitWord{static_cast<int32_t>(frame_bytes), kTypePadding, static_cast<uint8_t>(takes_seq ? kFlagVoided : 0), epoch},
          seq};
}

// A pair that no claim writes and no reader takes for a record (length 0): what a void leaves
// inside its paddings, so that the commit of a claimer it overran fails. It carries the lap's
// epoch, so that no older lap's poison stops a commit.
inline ClaimPair poison_pair(uint16_t epoch) noexcept { return {CommitWord{0, kTypePadding, kFlagVoided, epoch}, ~0ull}; }

// A pair that may begin a frame of this lap: committed DATA or PADDING of a sane length.
inline bool plausible_frame(ClaimPair p, uint16_t epoch, uint64_t room) noexcept {
  if (!p.word.claimed_in(epoch) || p.word.len <= 0) return false;
  if (p.word.type != kTypeData && p.word.type != kTypePadding) return false;
  const uint64_t frame = p.word.frame_bytes();
  return frame != 0 && frame <= room;
}

// True if `seqs` claims can lie in `bytes` bytes: a record claim is 32 bytes at least.
constexpr bool claims_fit(uint64_t seqs, uint64_t bytes) noexcept { return seqs <= bytes / kHeaderBytes; }

// The search both unblockers run for a boundary: the live one (find_abandoned_span, over a mapping
// publishers write into, reading pairs atomically) and the offline one (the journal scan's holes,
// scan_segment, over plain bytes on disk). They differ in how they read, in what bounds the
// search (the tail, or the end of the bytes) and in what a misfit means:
//   kIsBoundary: the tail's chain of values says the first record that continues the seqs IS the
//     boundary; if its seq leaves too little room for the claims before it, the log is garbage
//     (the caller reports kCorrupt after checking claims_fit).
//   kKeepLooking: nobody vouches for the bytes (a recycled segment holds an older epoch's
//     payload, a torn write any bytes): a record whose seq does not fit is skipped and the
//     search goes on.
enum class Misfit : uint8_t { kIsBoundary, kKeepLooking };

struct BoundarySearch {
  uint64_t origin = 0;       // p: where the dead claims begin
  uint64_t seq = 0;          // s: the seq the tail had at p
  bool any_seq = false;      // s is not known (a reader that started mid-log): any seq continues
  uint64_t max_seq = ~0ull;  // records with a later seq are not claimed yet (the tail's seq)
  uint16_t epoch = 0;        // of the lap searched
  Misfit misfit = Misfit::kIsBoundary;
};

struct Boundary {
  uint64_t position;  // q
  uint64_t seq;       // the seq of the record there
};

// The first record at a 16-byte step q in [from, to) that continues the seqs after `s.seq`: a
// plausible frame of the lap ending at `lap_end` (`to <= lap_end`), with a seq in (s.seq,
// s.max_seq]; at q == from also s.seq itself if `from_may_repeat_seq` (a lap's first record after
// claims that were all padding). `read(q)` returns the pair at q; it is only asked for q < to.
template <class ReadPair>
std::optional<Boundary> first_continuing_record(ReadPair&& read, uint64_t from, uint64_t to, uint64_t lap_end,
                                                bool from_may_repeat_seq, const BoundarySearch& s) noexcept {
  for (uint64_t q = from; q < to; q += kRecordAlign) {
    const ClaimPair pair = read(q);
    if (!plausible_frame(pair, s.epoch, lap_end - q) || pair.seq > s.max_seq) continue;
    const bool continues = s.any_seq || pair.seq > s.seq || (from_may_repeat_seq && q == from && pair.seq == s.seq);
    if (!continues) continue;
    if (s.misfit == Misfit::kKeepLooking && !s.any_seq && !claims_fit(pair.seq - s.seq, q - s.origin)) continue;
    return Boundary{q, pair.seq};
  }
  return std::nullopt;
}

// The i-th pair (at offset i * 16) of the void of a part's `seqs` claims in `bytes` bytes from
// seq `seq` on (for_each_void_frame).
inline ClaimPair void_frame_pair(uint64_t bytes, uint64_t seq, uint64_t seqs, uint16_t epoch, uint64_t i) noexcept {
  const uint64_t frames = std::max<uint64_t>(seqs, 1);
  const uint64_t off = i * kRecordAlign;
  const uint64_t frame = i + 1 == frames ? bytes - off : kRecordAlign;
  return voided_pair(frame, epoch, seq + i, seqs != 0);
}

// The pairs that void a part's `seqs` claims in `bytes` bytes from seq `seq` on, last frame
// first (log/abandoned_claim.h says why): k - 1 voided paddings of 16 bytes, then one that takes the
// rest; one plain padding when k = 0. `write(offset, pair)` returns false to stop.
template <class Write>
bool for_each_void_frame(uint64_t bytes, uint64_t seq, uint64_t seqs, uint16_t epoch, Write&& write) {
  for (uint64_t i = std::max<uint64_t>(seqs, 1); i-- > 0;) {
    if (!write(i * kRecordAlign, void_frame_pair(bytes, seq, seqs, epoch, i))) return false;
  }
  return true;
}

}  // namespace shmbus::log
