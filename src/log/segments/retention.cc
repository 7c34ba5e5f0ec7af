#include "log/segments/retention.h"

#include <unistd.h>

#include <algorithm>

#include "log/segments/segment_file.h"
#include "log/segments/time_index.h"
#include "shmbus/error.h"
#include "shmbus/topic.h"
#include "base/process_identity.h"
#include "topic/slots.h"

namespace shmbus::log::segments {
namespace {
constexpr uint64_t kNobody = ~0ull;
// Retired segments kept for reuse (beyond the byte budget): one per segment the publishers
// fill, since each retirement feeds the next creation; two leave slack.
constexpr size_t kMaxSpares = 2;

// Everything at or after the returned position may still be read, written or flushed.
uint64_t protected_from(topic::TopicMeta& meta, uint64_t tail, uint64_t deleting_below) {
  uint64_t from = std::min(tail, topic::min_publisher_intent(meta, kNobody));
  if (meta.config.fsync != static_cast<uint32_t>(FsyncPolicy::kNever)) {
    // Acquire: pairs with the flusher's release of the flushed position.
    from = std::min(from, meta.flush.flushed_position.load(std::memory_order_acquire));
  }
  // The dead, and the stalled past their timeout, do not hold the disk (they move on later).
  topic::evict_subscribers(meta, deleting_below, base::monotonic_ns());
  return std::min(from, topic::min_subscriber_position(meta, kNobody));
}
}  // namespace

RetentionPass enforce_retention(topic::TopicMeta& meta, const std::string& dir, int64_t now_realtime_ns) {
  const uint64_t segment_bytes = meta.config.segment_bytes;
  const uint64_t file_bytes = kSegmentHeaderBytes + segment_bytes;  // preallocated: the size on disk
  const auto segments = list_segments(dir);
  RetentionPass pass{0, segments.size(), segments.size() * file_bytes};
  const uint64_t budget = meta.config.retain_bytes;
  const auto max_age = static_cast<int64_t>(meta.config.retain_age_ms) * 1'000'000;
  if (budget == 0 && max_age == 0) return pass;
  // Acquire: pairs with cas_tail(); positions before it are whole frames.
  const uint64_t tail = meta.tail.position.load(std::memory_order_acquire);
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
    if (end > protected_from(meta, tail, end)) break;
    // SYNC: first-position (publish) — release, before the file goes: a reader that fails to
    // map the segment then sees that it must move on (subscriber.cc), not wait for it.
    uint64_t first = meta.journal.first_position.load(std::memory_order_relaxed);
    while (first < end && !meta.journal.first_position.compare_exchange_weak(first, end, std::memory_order_release,
                                                                              std::memory_order_relaxed)) {
    }
    if (retire_segment(dir, segments[i].second, kMaxSpares)) {
      // Relaxed: statistics; the rename or unlink decides who counts it.
      meta.journal.deleted_segments.fetch_add(1, std::memory_order_relaxed);
      ++pass.deleted;
    }
    --pass.segments;
    pass.bytes -= file_bytes;
  }
  return pass;
}

}  // namespace shmbus::log::segments
