// A journal segment on disk: <base position, 20 digits>.seg = a 4 KiB header (the common file
// header, then where the segment sits in the log) followed by `segment_bytes` of records. Made
// zeroed and preallocated (a write into a mapped hole on a full disk would be a SIGBUS).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "log/file_header.h"

namespace shmbus::journal {

inline constexpr size_t kSegmentHeaderBytes = 4096;
inline constexpr const char* kSparePrefix = ".spare-";  // retired segments kept for reuse

struct SegmentInfo {
  uint64_t base_position;  // log position of the first record byte
  uint64_t base_seq;       // seq of the first record
  uint64_t segment_bytes;  // record bytes that follow the header
  uint16_t epoch;          // what the records' commit words carry: base_position / segment_bytes
  uint16_t reserved[3];
};
static_assert(sizeof(SegmentInfo) == 32);

std::string segment_file_name(uint64_t base_position);
// The base position in a segment file name, or nothing if it is not one.
std::optional<uint64_t> parse_segment_file_name(const std::string& file_name);
// Segment files in `dir`, by base position.
std::vector<std::pair<uint64_t, std::string>> list_segments(const std::string& dir);

// Creates the segment atomically (temporary file, then link). Returns false if it exists.
// Reuses a spare (a segment retention retired) when there is one: its pages are already
// allocated, which on tmpfs or a warm page cache costs a memset instead of page faults.
// Throws Error (ErrorKind::kIo) when the disk refuses.
// `zero_in_place(dev, ino)`: zeroes a spare through a mapping the caller still has of it and
// says true (no page faults), or says false (then it is mapped and zeroed here).
bool create_segment(const std::string& dir, const SegmentInfo& info, unsigned mode = 0600,
                    const std::function<bool(uint64_t dev, uint64_t ino)>& zero_in_place = {});

// Retention: keeps the retired segment at `path` as a spare for create_segment() when fewer
// than `max_spares` are kept, else deletes it. Returns true if it was deleted or kept.
bool retire_segment(const std::string& dir, const std::string& path, size_t max_spares);
// Spare segment files in `dir`.
std::vector<std::string> list_spares(const std::string& dir);

// Reads and checks a segment's headers (magic, version, kind, size). Throws Error with the path.
// `actual_bytes`: the file's size now (shorter than the header says: truncated).
SegmentInfo read_segment_info(const std::string& path, uint64_t* actual_bytes = nullptr);

}  // namespace shmbus::journal
