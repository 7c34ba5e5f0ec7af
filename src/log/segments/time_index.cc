#include "log/segments/time_index.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "log/segments/segment_file.h"
#include "log/record_format.h"
#include "shmbus/error.h"
#include "base/file.h"

namespace shmbus::log::segments {
namespace {
TimeIndexEntry* entries(std::byte* header) noexcept {
  return reinterpret_cast<TimeIndexEntry*>(header + kTimeIndexOffset);
}
}  // namespace

void note_record_time(std::byte* segment_header, uint64_t segment_bytes, uint64_t position, int64_t timestamp_ns) noexcept {
  const uint64_t bucket = (position & (segment_bytes - 1)) / (segment_bytes / kTimeIndexEntries);
  TimeIndexEntry& e = entries(segment_header)[bucket];
  // Relaxed: a hint; nearly every commit finds the entry taken and stops here.
  if (e.position_plus_one.load(std::memory_order_relaxed) != 0) return;
  uint64_t empty = 0;
  // Relaxed: only the winner writes the timestamp, and the timestamp's release publishes both.
  if (!e.position_plus_one.compare_exchange_strong(empty, position + 1, std::memory_order_relaxed)) return;
  // SYNC: time-index (publish) — pairs with the acquire load in SegmentTimes.
  e.timestamp_ns.store(timestamp_ns, std::memory_order_release);
}

SegmentTimes::SegmentTimes(const std::string& segment_path, uint64_t base_position, uint64_t segment_bytes) {
  void* page = MAP_FAILED;
  {
    const base::UniqueFd fd = base::UniqueFd::open(segment_path, O_RDONLY);
    if (!fd.valid()) base::throw_file_error(segment_path, "open", errno);
    page = ::mmap(nullptr, kSegmentHeaderBytes, PROT_READ, MAP_SHARED, fd.get(), 0);
    if (page == MAP_FAILED) base::throw_file_error(segment_path, "map its header", errno);
  }
  const TimeIndexEntry* index = entries(static_cast<std::byte*>(page));
  for (size_t k = 0; k < kTimeIndexEntries; ++k) {
    // SYNC: time-index (read) — acquire pairs with the release in note_record_time().
    const int64_t ts = index[k].timestamp_ns.load(std::memory_order_acquire);
    const uint64_t p = index[k].position_plus_one.load(std::memory_order_relaxed) - 1;
    if (ts == 0 || p < base_position || p >= base_position + segment_bytes || p % log::kRecordAlign != 0) continue;
    marks_[count_++] = {p, ts};
  }
  ::munmap(page, kSegmentHeaderBytes);
}

std::optional<TimeMark> SegmentTimes::last_before(int64_t timestamp_ns) const noexcept {
  std::optional<TimeMark> found;
  for (size_t i = 0; i < count_; ++i) {
    if (marks_[i].timestamp_ns < timestamp_ns) found = marks_[i];
  }
  return found;
}

std::optional<TimeMark> SegmentTimes::first() const noexcept {
  return count_ == 0 ? std::nullopt : std::optional<TimeMark>(marks_[0]);
}

uint64_t time_seek_start(const std::string& dir, uint64_t segment_bytes, uint64_t first_position, uint64_t tail_position,
                         int64_t timestamp_ns) {
  auto times_of = [&](uint64_t index) -> std::optional<SegmentTimes> {
    try {
      return SegmentTimes(dir + "/" + segment_file_name(index * segment_bytes), index * segment_bytes, segment_bytes);
    } catch (const Error&) {
      return std::nullopt;  // not made yet, or just removed by retention
    }
  };
  auto older = [&](const std::optional<SegmentTimes>& t) {
    return t && t->first() && t->first()->timestamp_ns < timestamp_ns;
  };
  // The last segment whose first indexed record is older than the time.
  int64_t lo = static_cast<int64_t>(first_position / segment_bytes);
  int64_t hi = static_cast<int64_t>(tail_position / segment_bytes);
  std::optional<SegmentTimes> best;
  while (lo <= hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    std::optional<SegmentTimes> t = times_of(static_cast<uint64_t>(mid));
    if (older(t)) {
      best = std::move(t);
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  if (!best) return first_position;
  const uint64_t start = best->last_before(timestamp_ns)->position;
  return start < first_position ? first_position : start;
}

}  // namespace shmbus::log::segments
