#include "journal/segment_set.h"

#include <filesystem>

#include "journal/segment_file.h"
#include "log/file_header.h"
#include "log/record_format.h"
#include "shmbus/error.h"

namespace shmbus::journal {

SegmentSet::SegmentSet(std::string dir, uint64_t segment_bytes, log::Access access)
    : dir_(std::move(dir)), segment_bytes_(segment_bytes), access_(access) {}

std::string SegmentSet::segment_path(uint64_t index) const {
  return dir_ + "/" + segment_file_name(index * segment_bytes_);
}

uint64_t SegmentSet::records_offset() const noexcept { return kSegmentHeaderBytes; }

std::byte* SegmentSet::segment(uint64_t index, bool create) noexcept {
  std::lock_guard lock(mu_);
  auto it = mapped_.find(index);
  if (it != mapped_.end()) return it->second.data() + kSegmentHeaderBytes;
  try {
    const std::string path = segment_path(index);
    if (!std::filesystem::exists(path)) {
      if (!create) return nullptr;
      // The base seq is not known here; recovery reads it from the first record's claim pair.
      SegmentInfo info{index * segment_bytes_, ~0ull, segment_bytes_, static_cast<uint16_t>(index), {}};
      create_segment(dir_, info);  // false: another publisher made it first, fine
    }
    log::MappedFile file = log::MappedFile::open(path, access_);
    log::check_file_header(file.data(), file.size(), log::FileKind::kSegment, path);
    if (file.size() != kSegmentHeaderBytes + segment_bytes_) return nullptr;
    std::byte* records = file.data() + kSegmentHeaderBytes;
    mapped_.emplace(index, std::move(file));
    return records;
  } catch (const std::exception&) {
    return nullptr;  // disk full, permissions, a damaged file: the caller reports kStorage / waits
  }
}

uint64_t SegmentSet::first_position() const noexcept {
  try {
    auto segments = list_segments(dir_);
    first_position_.store(segments.empty() ? 0 : segments.front().first, std::memory_order_relaxed);
  } catch (const std::exception&) {
  }
  const uint64_t first = first_position_.load(std::memory_order_relaxed);
  return first == ~0ull ? 0 : first;
}

}  // namespace shmbus::journal
