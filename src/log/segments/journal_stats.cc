#include "log/segments/journal_stats.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <vector>

#include "log/segments/segment_file.h"
#include "log/segments/segment_scan.h"
#include "log/segments/time_index.h"
#include "log/record_format.h"
#include "shmbus/error.h"
#include "base/file.h"

namespace shmbus::log::segments {
namespace {

// Reads `bytes` of a segment's records from `offset` on (fewer at the file's end).
std::vector<std::byte> read_records(const std::string& path, uint64_t offset, uint64_t bytes) {
  std::vector<std::byte> out(bytes);
  const base::UniqueFd fd = base::UniqueFd::open(path, O_RDONLY);
  if (!fd.valid()) return {};
  const ssize_t got = base::pread_full(fd.get(), out.data(), bytes, kSegmentHeaderBytes + offset);
  out.resize(got < 0 ? 0 : static_cast<size_t>(got));
  return out;
}

}  // namespace

void fill_journal_stats(const JournalState& state, uint64_t segment_bytes, const std::string& dir, TopicStats& s) {
  // Relaxed: statistics.
  s.first_position = state.first_position.load(std::memory_order_relaxed);
  s.deleted_segments = state.deleted_segments.load(std::memory_order_relaxed);
  s.skipped = state.skipped.load(std::memory_order_relaxed);
  const auto segments = list_segments(dir);
  s.segments = segments.size();
  std::vector<std::string> files;
  for (const auto& segment : segments) files.push_back(segment.second);
  const std::vector<std::string> spares = list_spares(dir);
  s.spare_segments = spares.size();
  files.insert(files.end(), spares.begin(), spares.end());
  for (const std::string& path : files) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) s.disk_bytes += static_cast<uint64_t>(st.st_size);
  }
  if (s.tail_position > s.first_position) {
    const std::string first_path = dir + "/" + segment_file_name(s.first_position - s.first_position % segment_bytes);
    const auto first = read_records(first_path, s.first_position % segment_bytes, sizeof(log::RecordHeader));
    if (first.size() == sizeof(log::RecordHeader)) {
      log::RecordHeader h;
      std::memcpy(&h, first.data(), sizeof h);
      const log::CommitWord w = log::pair_in(first.data()).word;
      if (w.len > 0 && w.type == log::kTypeData) s.oldest_ns = h.timestamp_ns;
    }
    // The newest: the tail segment's last index entry, then the frames after it.
    const uint64_t last_byte = s.tail_position - 1;
    const uint64_t base = last_byte - last_byte % segment_bytes;
    const std::string path = dir + "/" + segment_file_name(base);
    try {
      // Marks of records after our tail snapshot (published since) are left out.
      SegmentTimes times(path, base, segment_bytes);
      std::optional<TimeMark> mark;
      for (size_t i = 0; i < times.size() && times[i].position < s.tail_position; ++i) mark = times[i];
      const uint64_t from = mark ? mark->position : base;
      // Whole frames up to our tail snapshot: the scanner's last record is the newest.
      const auto records = read_records(path, from - base, s.tail_position - from);
      if (records.size() >= 16) {
        s.newest_ns = scan_segment(records, static_cast<uint16_t>(base / segment_bytes), log::pair_in(records.data()).seq,
                                   /*verify_crc=*/false)
                          .last_timestamp_ns;
      }
      if (s.newest_ns == 0 && mark) s.newest_ns = mark->timestamp_ns;
    } catch (const Error&) {
      // removed by retention meanwhile: leave it unknown
    }
    if (s.oldest_ns == 0 && s.newest_ns != 0) s.oldest_ns = s.newest_ns;
  }
}

}  // namespace shmbus::log::segments
