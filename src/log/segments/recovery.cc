#include "log/segments/recovery.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <vector>

#include "log/segments/segment_file.h"
#include "log/segments/segment_scan.h"
#include "log/void_frames.h"
#include "log/record_format.h"
#include "shmbus/error.h"
#include "base/file.h"

namespace shmbus::log::segments {
namespace {

class SegmentIo {
 public:
  SegmentIo(const std::string& path, bool writable)
      : path_(path), fd_(base::UniqueFd::open(path, writable ? O_RDWR : O_RDONLY)) {
    if (!fd_.valid()) throw Error(path + ": cannot open (" + std::strerror(errno) + ")", ErrorKind::kIo);
  }
  ~SegmentIo() {
    if (map_ != nullptr) ::munmap(map_, map_bytes_);
  }
  SegmentIo(const SegmentIo&) = delete;
  SegmentIo& operator=(const SegmentIo&) = delete;

  // The record area, mapped (no copy); bytes missing from a truncated file read as zero (then
  // it is read into memory instead). Valid while this object lives.
  std::span<const std::byte> read_records(uint64_t segment_bytes) {
    struct stat st {};
    const uint64_t want = kSegmentHeaderBytes + segment_bytes;
    if (::fstat(fd_.get(), &st) == 0 && static_cast<uint64_t>(st.st_size) >= want) {
      void* map = ::mmap(nullptr, want, PROT_READ, MAP_SHARED | MAP_POPULATE, fd_.get(), 0);
      if (map != MAP_FAILED) {
        map_ = map;
        map_bytes_ = want;
        return {static_cast<const std::byte*>(map) + kSegmentHeaderBytes, segment_bytes};
      }
    }
    copy_.assign(segment_bytes, std::byte{0});
    if (base::pread_full(fd_.get(), copy_.data(), segment_bytes, kSegmentHeaderBytes) < 0) {
      throw Error(path_ + ": cannot read (" + std::strerror(errno) + ")", ErrorKind::kIo);
    }
    return copy_;
  }
  void write(uint64_t record_offset, const void* bytes, size_t n) const {
    if (::pwrite(fd_.get(), bytes, n, static_cast<off_t>(kSegmentHeaderBytes + record_offset)) != static_cast<ssize_t>(n)) {
      throw Error(path_ + ": cannot write (" + std::strerror(errno) + ")", ErrorKind::kIo);
    }
  }
  void restore_size(uint64_t file_bytes) const {
    if (::ftruncate(fd_.get(), static_cast<off_t>(file_bytes)) != 0 || ::fsync(fd_.get()) != 0) {
      throw Error(path_ + ": cannot restore its size (" + std::strerror(errno) + ")", ErrorKind::kIo);
    }
  }
  void sync() const { ::fsync(fd_.get()); }

 private:
  std::string path_;
  base::UniqueFd fd_;
  void* map_ = nullptr;
  uint64_t map_bytes_ = 0;
  std::vector<std::byte> copy_;
};

// Voids the claims of a hole (their writers died before the commit wrote a pair): the same
// paddings an unblocker writes.
void void_hole(const SegmentIo& io, const log::VoidPart& hole, uint16_t epoch) {
  log::for_each_void_frame(hole.end - hole.position, hole.seq, hole.seqs, epoch, [&](uint64_t off, log::ClaimPair pair) {
    const uint64_t raw[2] = {pair.word.encode(), pair.seq};
    io.write(hole.position + off, raw, sizeof raw);
    return true;
  });
}

void move_aside(const std::vector<std::pair<uint64_t, std::string>>& segments, size_t from, JournalCheck& c) {
  for (size_t i = from; i < segments.size(); ++i) {
    const std::string target = segments[i].second + ".damaged";
    std::error_code ec;
    std::filesystem::rename(segments[i].second, target, ec);
    if (!ec) c.moved_aside.push_back(target);
  }
}

// The seq of the first claim in a segment made by a publisher (its header does not know it):
// the first frame's, if it is a claim of this segment's epoch; 0 for an empty segment.
uint64_t first_claim_seq(std::span<const std::byte> data, uint16_t epoch) {
  if (data.size() < 16) return 0;
  const log::ClaimPair first = log::pair_in(data.data());
  return first.word.claimed_in(epoch) ? first.seq : 0;
}

// The seq of segment `index`'s first record, if it is readable and says: from its header, or
// (made by a publisher) from its first pair. kNoNextSegment otherwise.
uint64_t first_seq_of(const std::vector<std::pair<uint64_t, std::string>>& segments, size_t index) {
  if (index >= segments.size()) return kNoNextSegment;
  try {
    const SegmentInfo info = read_segment_info(segments[index].second);
    if (info.base_seq != log::kUnknownSeq) return info.base_seq;  // else made by a publisher: its first pair says
    SegmentIo io(segments[index].second, false);
    const std::span<const std::byte> data = io.read_records(info.segment_bytes);
    const log::ClaimPair first = log::pair_in(data.data());
    return first.word.claimed_in(info.epoch) && first.word.len > 0 ? first.seq : kNoNextSegment;
  } catch (const Error&) {
    return kNoNextSegment;
  }
}

// True if every segment from `from` on is readable and holds nothing (made ahead of need): all
// zero, or (a recycled one) no claim of its epoch with the seq the journal continues at.
bool only_empty_segments_follow(const std::vector<std::pair<uint64_t, std::string>>& segments, size_t from,
                                uint64_t next_seq) {
  for (size_t i = from; i < segments.size(); ++i) {
    try {
      SegmentInfo info = read_segment_info(segments[i].second);
      SegmentIo io(segments[i].second, false);
      const std::span<const std::byte> data = io.read_records(info.segment_bytes);
      if (info.flags & kSegmentRecycled) {
        const log::ClaimPair first = log::pair_in(data.data());
        if (first.word.claimed_in(info.epoch) && first.seq == next_seq) return false;
        continue;
      }
      for (std::byte b : data) {
        if (b != std::byte{0}) return false;
      }
    } catch (const Error&) {
      return false;
    }
  }
  return true;
}

// The problem with segment `info` (not the first) if it does not start where the journal before
// it ended; empty if it does.
std::string misplaced(const std::string& path, const SegmentInfo& info, uint64_t expected_base, uint64_t next_seq) {
  if (info.base_position == expected_base && (info.base_seq == log::kUnknownSeq || info.base_seq == next_seq)) return {};
  return path + ": starts at position " + std::to_string(info.base_position) + ", seq " + std::to_string(info.base_seq) +
         "; the journal continues at position " + std::to_string(expected_base) + ", seq " + std::to_string(next_seq) +
         (info.base_position > expected_base ? " (a segment is missing)" : "");
}

// Adds one segment's scan to the journal's totals.
void count_scan(const SegmentScan& s, const SegmentInfo& info, JournalCheck& c) {
  ++c.segments;
  c.records += s.records;
  c.voided += s.voided;
  for (const log::VoidPart& h : s.holes) c.abandoned += std::max<uint64_t>(h.seqs, 1);
  if (s.records > 0) {
    if (c.first_timestamp_ns == 0) c.first_timestamp_ns = s.first_timestamp_ns;
    c.last_timestamp_ns = s.last_timestamp_ns;
  }
  c.next_seq = s.next_seq;
  c.end_position = info.base_position + s.end;
}

// Repair of one segment: voids its holes, zeroes what follows its true end, restores its size.
void repair_segment(const SegmentIo& io, const SegmentScan& s, uint64_t record_bytes, uint16_t epoch,
                    uint64_t restore_to_bytes) {
  for (const log::VoidPart& h : s.holes) void_hole(io, h, epoch);
  if (s.dirty_bytes != 0) {
    std::vector<std::byte> zeros(record_bytes - s.end);
    io.write(s.end, zeros.data(), zeros.size());
  }
  if (restore_to_bytes != 0) io.restore_size(restore_to_bytes);
  io.sync();
}

}  // namespace

JournalCheck check_journal(const std::string& dir, bool repair, const JournalProgress& progress) {
  JournalCheck c;
  const auto segments = list_segments(dir);
  uint64_t expected_base = 0;
  for (size_t i = 0; i < segments.size(); ++i) {
    if (progress) progress(i, segments.size());
    const std::string& path = segments[i].second;
    SegmentInfo info;
    uint64_t actual_bytes = 0;
    try {
      info = read_segment_info(path, &actual_bytes);
    } catch (const Error& e) {
      c.problems.push_back(e.what());
      // Another version is not ours to change; anything else unreadable is damage.
      if (repair && e.kind() != ErrorKind::kVersion) move_aside(segments, i, c);
      return c;
    }
    if (i == 0) {
      c.first_position = info.base_position;
      c.next_seq = info.base_seq;
    } else if (std::string problem = misplaced(path, info, expected_base, c.next_seq); !problem.empty()) {
      c.problems.push_back(std::move(problem));
      if (repair) move_aside(segments, i, c);
      return c;
    }
    const uint64_t file_bytes = kSegmentHeaderBytes + info.segment_bytes;
    SegmentIo io(path, repair);
    const std::span<const std::byte> data = io.read_records(info.segment_bytes);
    const bool recycled = (info.flags & kSegmentRecycled) != 0;
    if (c.next_seq == log::kUnknownSeq) c.next_seq = first_claim_seq(data, info.epoch);
    SegmentScan s = scan_segment(data, info.epoch, c.next_seq, /*verify_crc=*/true, recycled, first_seq_of(segments, i + 1));
    count_scan(s, info, c);
    expected_base = info.base_position + info.segment_bytes;
    const bool last = i + 1 == segments.size();
    const bool truncated = actual_bytes < file_bytes;
    const bool damaged = s.stop != SegmentScan::Stop::kClean || (!last && !s.full);
    if (truncated) {
      c.problems.push_back(path + ": file is " + std::to_string(actual_bytes) + " bytes, its header says " +
                           std::to_string(file_bytes) + " (truncated)");
    }
    if (s.stop != SegmentScan::Stop::kClean) c.problems.push_back(path + ": " + s.problem);
    // Publishers make the next segment ahead of need: empty segments after the end are fine.
    const bool ends_here = s.stop == SegmentScan::Stop::kClean && !last && !s.full &&
                           only_empty_segments_follow(segments, i + 1, s.next_seq);
    if (s.stop == SegmentScan::Stop::kClean && !last && !s.full && !ends_here) {
      c.problems.push_back(path + ": offset " + std::to_string(s.end) + ": the segment ends early but is not the last");
    }
    c.cut_bytes += s.dirty_bytes;
    if (repair) repair_segment(io, s, data.size(), info.epoch, truncated ? file_bytes : 0);
    if (ends_here) return c;
    if (damaged || truncated) {
      if (repair && !last) move_aside(segments, i + 1, c);
      if (!last) return c;
    }
  }
  return c;
}

}  // namespace shmbus::log::segments

namespace shmbus {

JournalReport check_journal(const std::string& data_dir, bool repair, const JournalProgress& progress) {
  return log::segments::check_journal(data_dir, repair, progress);
}

}  // namespace shmbus
