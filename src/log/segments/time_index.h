// The sparse time index of a segment, in the second half of its 4 KiB header page: entry k names
// one record that starts in the k-th 1/128 of the segment, with its timestamp. The first
// publisher to commit in a bucket fills its entry (one relaxed load for everybody else), so
// seeking to a time reads a few header pages and at most one bucket of records, never a whole
// journal. Entries are hints: a reader checks the record it lands on like any other.
// Protocol spec: docs/format.md section 9.6.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace shmbus::log::segments {

inline constexpr size_t kTimeIndexOffset = 2048;  // in the segment header page
inline constexpr size_t kTimeIndexEntries = 128;

struct TimeIndexEntry {
  std::atomic<uint64_t> position_plus_one;  // 0: empty
  std::atomic<int64_t> timestamp_ns;        // 0: being written (or its writer died): ignore
};
static_assert(sizeof(TimeIndexEntry) == 16 && std::atomic<uint64_t>::is_always_lock_free);
static_assert(kTimeIndexOffset + kTimeIndexEntries * sizeof(TimeIndexEntry) <= 4096);

// Publishers, after a record commits: fills the record's bucket entry if it is empty.
// `segment_header`: the segment's mapped first byte.
void note_record_time(std::byte* segment_header, uint64_t segment_bytes, uint64_t position, int64_t timestamp_ns) noexcept;

struct TimeMark {
  uint64_t position = 0;
  int64_t timestamp_ns = 0;
};

// A segment's complete entries, in bucket order (so in position order), read from its header
// page alone (mapped for the call: not the records). Entries outside the segment are dropped.
class SegmentTimes {
 public:
  // Throws Error if the file cannot be opened.
  explicit SegmentTimes(const std::string& segment_path, uint64_t base_position, uint64_t segment_bytes);
  size_t size() const noexcept { return count_; }
  const TimeMark& operator[](size_t i) const noexcept { return marks_[i]; }
  // The last mark older than `timestamp_ns`, if any.
  std::optional<TimeMark> last_before(int64_t timestamp_ns) const noexcept;
  std::optional<TimeMark> first() const noexcept;

 private:
  TimeMark marks_[kTimeIndexEntries];
  size_t count_ = 0;
};

// Where to start reading to find the first record at or after `timestamp_ns` in the journal in
// `dir` (segments of `segment_bytes`, positions [first_position, tail_position)): a record older
// than that time, found by a binary search over the segments' first index entries and then
// within one segment's entries; `first_position` if no record is known to be older. The caller
// reads forward from there (at most about a bucket, if timestamps grow with positions).
uint64_t time_seek_start(const std::string& dir, uint64_t segment_bytes, uint64_t first_position, uint64_t tail_position,
                         int64_t timestamp_ns);

}  // namespace shmbus::log::segments
