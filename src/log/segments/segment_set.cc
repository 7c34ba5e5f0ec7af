#include "log/segments/segment_set.h"

#include <sys/stat.h>

#include <filesystem>

#include "log/segments/segment_file.h"
#include "log/file_header.h"
#include "log/record_format.h"
#include "shmbus/error.h"

namespace shmbus::log::segments {

SegmentSet::SegmentSet(std::string dir, uint64_t segment_bytes, base::Access access,
                       const std::atomic<uint64_t>* first_position)
    : dir_(std::move(dir)), segment_bytes_(segment_bytes), access_(access), first_position_(first_position) {
  if (access_ == base::Access::kReadWrite) ahead_ = std::jthread([this](std::stop_token stop) { prepare_ahead(stop); });
}

SegmentSet::~SegmentSet() {
  if (ahead_.joinable()) {
    {
      // Under mu_: the thread is then either before its check of the stop (and sees it) or
      // asleep in the wait (and is woken), whatever the stop callback of the wait does.
      std::lock_guard<std::mutex> guard(mu_);
      ahead_.request_stop();
      ahead_cv_.notify_all();
    }
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
    if (before_create_) {
      lock.unlock();  // the hook reads files and the meta, not our mappings
      before_create_();
      lock.lock();
      drop_retired_locked();
    }
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

namespace {
constexpr size_t kMaxRetiredMappings = 4;  // retention keeps two spares; readers lag a little

bool file_id(const std::string& path, uint64_t& dev, uint64_t& ino) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  dev = st.st_dev;
  ino = st.st_ino;
  return true;
}
}  // namespace

void SegmentSet::drop_retired_locked() noexcept {
  // An object still reading a retired segment keeps its mapping alive (its pin).
  const uint64_t first_index = first_position() / segment_bytes_;
  for (auto it = mapped_.begin(); it != mapped_.end() && it->first < first_index;) {
    retired_.push_back(std::move(it->second));
    it = mapped_.erase(it);
  }
  if (retired_.size() > kMaxRetiredMappings) {
    retired_.erase(retired_.begin(), retired_.end() - static_cast<std::ptrdiff_t>(kMaxRetiredMappings));
  }
}

std::shared_ptr<const base::MappedFile> SegmentSet::take_retired(uint64_t dev, uint64_t ino) noexcept {
  for (auto it = retired_.begin(); it != retired_.end(); ++it) {
    // use_count 1: only we hold it, so nobody reads it as the segment it was.
    if (it->dev == dev && it->ino == ino && it->file.use_count() == 1) {
      auto file = std::move(it->file);
      retired_.erase(it);
      return file;
    }
  }
  return nullptr;
}

log::MappedSegment SegmentSet::map_locked(uint64_t index, bool create) noexcept {
  auto it = mapped_.find(index);
  if (it != mapped_.end()) return {it->second.file->data() + kSegmentHeaderBytes, it->second.file};
  // Retention removed it (or is about to): do not make it again.
  if (index < first_position() / segment_bytes_) return {};
  try {
    const std::string path = segment_path(index);
    if (!std::filesystem::exists(path)) {
      if (!create) return {};
      // The base seq is not known here; recovery reads it from the first record's claim pair.
      SegmentInfo info{index * segment_bytes_, ~0ull, segment_bytes_, static_cast<uint16_t>(index), 0, {}};
      create_segment(dir_, info);  // false: another publisher made it first, fine
    }
    Mapping m;
    if (!file_id(path, m.dev, m.ino)) return {};
    m.file = take_retired(m.dev, m.ino);
    const bool reused = m.file != nullptr;
    if (!reused) {
      base::MappedFile file = base::MappedFile::open(path, access_);
      m.file = std::make_shared<const base::MappedFile>(std::move(file));
    }
    log::check_file_header(m.file->data(), m.file->size(), log::FileKind::kSegment, path);
    if (m.file->size() != kSegmentHeaderBytes + segment_bytes_) return {};
    if (!reused) m.file->populate();  // now, not one page fault at a time on publish
    std::byte* records = m.file->data() + kSegmentHeaderBytes;
    std::shared_ptr<const void> pin = m.file;
    mapped_.emplace(index, std::move(m));
    return {records, std::move(pin)};
  } catch (const std::exception& e) {
    // Disk full, permissions, a damaged file: the caller reports kStorage (or waits), and
    // Publisher::explain() tells why. Already a slow, failing path: the copy may allocate.
    try {
      last_error_ = e.what();
    } catch (const std::exception&) {
    }
    return {};
  }
}

std::string SegmentSet::last_error() {
  std::lock_guard lock(mu_);
  return last_error_;
}

uint64_t SegmentSet::first_position() const noexcept {
  // Acquire: pairs with retention's release (retention.cc), made before the files go.
  return first_position_->load(std::memory_order_acquire);
}

}  // namespace shmbus::log::segments
