// Reading a journal segment from its start to its true end: what recovery, `journal verify` and
// the fuzz target run. Pure function of the bytes: never reads outside them, never trusts a
// length it has not bounded, allocates only for the list of abandoned claims.
// Protocol spec: docs/format.md section 9.2-9.3 and 11.5.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "log/void_frames.h"

namespace shmbus::log::segments {

struct SegmentScan {
  enum class Stop : uint8_t {
    kClean,    // a zero word (segments are created zeroed) or the end-of-segment padding
    kTorn,     // bytes that are no whole record: an unfinished write, cut by recovery
    kCorrupt,  // a whole-looking record that fails its checks (CRC, seq, length): damage
  };
  Stop stop = Stop::kClean;
  uint64_t end = 0;                  // offset just past the last good frame: the true tail
  bool full = false;                 // frames reach the end (padding or an exact fit)
  uint64_t records = 0;              // committed DATA records
  uint64_t voided = 0;               // aborted or unblocked claims (voided padding)
  // Holes: claims whose writer died before its commit wrote the pair, bounded by the next record
  // (log/abandoned_claim.h); offsets in `data`.
  std::vector<log::VoidPart> holes;
  uint64_t next_seq = 0;             // the seq of the record after `end`
  int64_t first_timestamp_ns = 0;    // of the first DATA record, 0 if none
  int64_t last_timestamp_ns = 0;     // of the last DATA record, 0 if none
  uint64_t dirty_bytes = 0;          // non-zero bytes from `end` on: what a recovery zeroes
  std::string problem;               // for kTorn/kCorrupt: the offset and what is wrong there
};

// Scans `data` (a segment's record area) whose frames carry `epoch` and whose first record has
// seq `first_seq`. `verify_crc`: check every DATA record's CRC32C. A segment made zeroed ends at
// a zero word, and any non-zero byte after its last frame is a torn write. A `recycled` one
// holds an older segment's bytes: it ends at the first frame that is not this epoch's next
// claim (a claim pair of this epoch with the next seq), and what follows is leftovers, not damage.
// Where a frame's pair is missing but a later record of this segment continues the seqs (or the
// next segment does: its first record's seq is `next_segment_seq`, if known), the gap is a hole.
inline constexpr uint64_t kNoNextSegment = ~0ull;
SegmentScan scan_segment(std::span<const std::byte> data, uint16_t epoch, uint64_t first_seq, bool verify_crc,
                         bool recycled = false, uint64_t next_segment_seq = kNoNextSegment);

}  // namespace shmbus::log::segments
