// Retention of a journal topic: deletes whole segments, oldest first, once the journal is over
// its byte budget or their records are older than its age limit. Never the segment the tail is
// in, nor one the topic protects (protected_from: live subscribers, claims) or an unfinished
// flush is in: deletion stops at the first segment it may not take. Dead
// subscribers (and stalled ones past the subscriber timeout) are evicted first, so they cannot
// hold the disk forever; when they come back they move on, counting what they skipped.
// Up to two retired segments are kept as spares (beyond the budget) and reused for new
// segments: their pages are allocated already, so growing the journal costs a memset, not
// page faults and the kernel zeroing fresh pages.
// Protocol spec: docs/format.md section 9.7.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "log/storage_state.h"

namespace shmbus::log::segments {

struct RetentionPass {
  uint64_t deleted = 0;  // segments this pass removed
  uint64_t segments = 0;  // segment files left (spares not counted)
  uint64_t bytes = 0;     // their size on disk
};

struct RetentionLimits {
  uint64_t segment_bytes = 0;
  uint64_t retain_bytes = 0;   // 0: no byte budget
  int64_t retain_age_ns = 0;   // 0: no age limit
  bool flushes = false;        // fsync interval/always: unflushed segments stay
};

// What the topic protects: everything at or after the returned position may still be read or
// written (live subscribers, claims). The topic decides; retention deletes only below it.
using ProtectedFrom = std::function<uint64_t(uint64_t tail, uint64_t deleting_below)>;

// One pass over the journal in `dir`. Safe to run from several processes at once: the first
// retained position only moves forward, and a segment is unlinked after it moved. Throws Error
// only if the directory cannot be read.
RetentionPass enforce_retention(const StorageWords& words, const RetentionLimits& limits, const std::string& dir,
                                int64_t now_realtime_ns, const ProtectedFrom& protected_from);

}  // namespace shmbus::log::segments
