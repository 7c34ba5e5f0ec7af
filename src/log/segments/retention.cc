#include "log/segments/retention.h"

#include <unistd.h>

#include <algorithm>

#include "log/segments/segment_file.h"
#include "log/segments/time_index.h"
#include "shmbus/error.h"
#include "shmbus/topic.h"

namespace shmbus::log::segments {
namespace {
// Retired segments kept for reuse (beyond the byte budget): one per segment the publishers
// fill, since each retirement feeds the next creation; two leave slack.
constexpr size_t kMaxSpares = 2;

}  // namespace

RetentionPass enforce_retention(const StorageWords& words, const RetentionLimits& limits, const std::string& dir,
                                int64_t now_realtime_ns, const ProtectedFrom& protected_from) {
  const uint64_t segment_bytes = limits.segment_bytes;
  const uint64_t file_bytes = kSegmentHeaderBytes + segment_bytes;  // preallocated: the size on disk
  const auto segments = list_segments(dir);
  RetentionPass pass{0, segments.size(), segments.size() * file_bytes};
  const uint64_t budget = limits.retain_bytes;
  const int64_t max_age = limits.retain_age_ns;
  if (budget == 0 && max_age == 0) return pass;
  // Acquire: pairs with cas_tail(); positions before it are whole frames.
  const uint64_t tail = words.tail->position.load(std::memory_order_acquire);
  for (size_t i = 0; i + 1 < segments.size(); ++i) {
    const uint64_t end = segments[i].first + segment_bytes;
    if (end > tail) break;  // the segment being written stays
    const bool over_budget = budget != 0 && pass.bytes > budget;
    bool expired = false;
    if (!over_budget && max_age != 0) {
      // The next segment's first record is newer than every record of this one.
      try {
        SegmentTimes next(segments[i + 1].second, segments[i + 1].first, segment_bytes);
        expired = next.first() && next.first()->timestamp_ns < now_realtime_ns - max_age;
      } catch (const Error&) {
        break;  // removed meanwhile by another process's pass
      }
    }
    if (!over_budget && !expired) break;
    uint64_t keep_from = protected_from(tail, end);
    if (limits.flushes) {
      // Acquire: pairs with the flusher's release of the flushed position.
      keep_from = std::min(keep_from, words.flush->flushed_position.load(std::memory_order_acquire));
    }
    if (end > keep_from) break;
    // SYNC: first-position (publish) — release, before the file goes: a reader that fails to
    // map the segment then sees that it must move on (subscriber.cc), not wait for it.
    uint64_t first = words.journal->first_position.load(std::memory_order_relaxed);
    while (first < end && !words.journal->first_position.compare_exchange_weak(first, end, std::memory_order_release,
                                                                              std::memory_order_relaxed)) {
    }
    if (retire_segment(dir, segments[i].second, kMaxSpares)) {
      // Relaxed: statistics; the rename or unlink decides who counts it.
      words.journal->deleted_segments.fetch_add(1, std::memory_order_relaxed);
      ++pass.deleted;
    }
    --pass.segments;
    pass.bytes -= file_bytes;
  }
  return pass;
}

}  // namespace shmbus::log::segments
