#include "journal/segment_set.h"

#include <sys/mman.h>

#include <filesystem>

#include "journal/segment_file.h"
#include "log/file_header.h"
#include "log/record_format.h"
#include "shmbus/error.h"

namespace shmbus::journal {

SegmentSet::SegmentSet(std::string dir, uint64_t segment_bytes, log::Access access,
                       const std::atomic<uint64_t>* first_position)
    : dir_(std::move(dir)), segment_bytes_(segment_bytes), access_(access), first_position_(first_position) {
  if (access_ == log::Access::kReadWrite) ahead_ = std::jthread([this](std::stop_token stop) { prepare_ahead(stop); });
}

SegmentSet::~SegmentSet() {
  if (ahead_.joinable()) {
    ahead_.request_stop();
    ahead_cv_.notify_all();
    ahead_.join();
  }
}

void SegmentSet::prepare_ahead(std::stop_token stop) {
  std::unique_lock lock(mu_);
  for (;;) {
    ahead_cv_.wait(lock, stop, [this] { return ahead_index_ != ~0ull; });
    if (stop.stop_requested()) return;
    const uint64_t index = ahead_index_;
    ahead_index_ = ~0ull;
    map_locked(index, /*create=*/true);
  }
}

std::string SegmentSet::segment_path(uint64_t index) const {
  return dir_ + "/" + segment_file_name(index * segment_bytes_);
}

uint64_t SegmentSet::records_offset() const noexcept { return kSegmentHeaderBytes; }

log::MappedSegment SegmentSet::segment(uint64_t index, bool create) noexcept {
  std::lock_guard lock(mu_);
  drop_retired_locked();
  log::MappedSegment m = map_locked(index, create);
  if (m.records != nullptr && create && ahead_.joinable() && mapped_.find(index + 1) == mapped_.end()) {
    ahead_index_ = index + 1;
    ahead_cv_.notify_one();
  }
  return m;
}

void SegmentSet::drop_retired_locked() noexcept {
  // Acquire: pairs with retention's release of first_position (retention.cc), made before the
  // files go. Only our reference goes here; an object still reading one keeps it mapped.
  const uint64_t first_index = first_position_->load(std::memory_order_acquire) / segment_bytes_;
  mapped_.erase(mapped_.begin(), mapped_.lower_bound(first_index));
}

log::MappedSegment SegmentSet::map_locked(uint64_t index, bool create) noexcept {
  auto it = mapped_.find(index);
  if (it != mapped_.end()) return {it->second->data() + kSegmentHeaderBytes, it->second};
  // Retention removed it (or is about to): do not make it again.
  if (index < first_position_->load(std::memory_order_acquire) / segment_bytes_) return {};
  try {
    const std::string path = segment_path(index);
    if (!std::filesystem::exists(path)) {
      if (!create) return {};
      // The base seq is not known here; recovery reads it from the first record's claim pair.
      SegmentInfo info{index * segment_bytes_, ~0ull, segment_bytes_, static_cast<uint16_t>(index), {}};
      create_segment(dir_, info);  // false: another publisher made it first, fine
    }
    log::MappedFile file = log::MappedFile::open(path, access_);
    log::check_file_header(file.data(), file.size(), log::FileKind::kSegment, path);
    if (file.size() != kSegmentHeaderBytes + segment_bytes_) return {};
#ifdef MADV_POPULATE_WRITE
    // Fault the pages in now (best effort: older kernels say EINVAL), not one by one on publish.
    ::madvise(file.data(), file.size(), access_ == log::Access::kReadWrite ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
#endif
    auto shared = std::make_shared<const log::MappedFile>(std::move(file));
    mapped_.emplace(index, shared);
    return {shared->data() + kSegmentHeaderBytes, shared};
  } catch (const std::exception&) {
    return {};  // disk full, permissions, a damaged file: the caller reports kStorage / waits
  }
}

uint64_t SegmentSet::first_position() const noexcept {
  // Acquire: pairs with retention's release (retention.cc).
  return first_position_->load(std::memory_order_acquire);
}

}  // namespace shmbus::journal
