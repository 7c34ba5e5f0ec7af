// A journal segment on disk: <base position, 20 digits>.seg = a 4 KiB header (the common file
// header, then where the segment sits in the log) followed by `segment_bytes` of records. Made
// zeroed and preallocated (a write into a mapped hole on a full disk would be a SIGBUS).
// Protocol spec: docs/format.md section 4.7.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "log/file_header.h"

namespace shmbus::log::segments {

inline constexpr size_t kSegmentHeaderBytes = 4096;
inline constexpr const char* kSparePrefix = ".spare-";  // retired segments kept for reuse

struct SegmentInfo {
  uint64_t base_position;  // log position of the first record byte
  uint64_t base_seq;       // seq of the first record
  uint64_t segment_bytes;  // record bytes that follow the header
  uint16_t epoch;          // what the records' commit words carry: base_position / segment_bytes
  uint16_t flags;          // kSegmentRecycled
  uint16_t reserved[2];
};
// The record area holds an older segment's bytes (it was a spare): not zeroed. Its records end
// at the first frame that is not this epoch's next claim (see scan_segment).
inline constexpr uint16_t kSegmentRecycled = 1;
static_assert(sizeof(SegmentInfo) == 32);

std::string segment_file_name(uint64_t base_position);
// The base position in a segment file name, or nothing if it is not one.
std::optional<uint64_t> parse_segment_file_name(const std::string& file_name);
// Segment files in `dir`, by base position.
std::vector<std::pair<uint64_t, std::string>> list_segments(const std::string& dir);

// Creates the segment atomically (temporary file, then link). Returns false if it exists.
// Reuses a spare (a segment retention retired) when there is one, as it is: its pages are
// allocated and stay in the page cache, and its old records cannot pass for new ones (another
// epoch, older seqs), so only its header is rewritten (flag kSegmentRecycled, the time index
// cleared). Throws Error (ErrorKind::kIo) when the disk refuses.
bool create_segment(const std::string& dir, const SegmentInfo& info, unsigned mode = 0600);

// Retention: keeps the retired segment at `path` as a spare for create_segment() when fewer
// than `max_spares` are kept, else deletes it. Returns true if it was deleted or kept.
bool retire_segment(const std::string& dir, const std::string& path, size_t max_spares);
// Spare segment files in `dir`.
std::vector<std::string> list_spares(const std::string& dir);

// Reads and checks a segment's headers (magic, version, kind, size). Throws Error with the path.
// `actual_bytes`: the file's size now (shorter than the header says: truncated).
SegmentInfo read_segment_info(const std::string& path, uint64_t* actual_bytes = nullptr);

}  // namespace shmbus::log::segments
