#include "topic/topic_handle.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/process_identity.h"
#include "log/file_header.h"
#include "shmbus/error.h"
#include "topic/slots.h"

namespace shmbus::topic {
namespace fs = std::filesystem;

namespace {
void init_meta(std::byte* at, const std::string& name, const TopicConfig& config, const log::CreatedStorage& storage) {
  auto* meta = new (at) TopicMeta{};  // zeroed file: constructing the atomics is a formality
  log::init_file_header(&meta->file, log::FileKind::kTopicMeta, sizeof(TopicMeta));
  const log::StorageConfig& s = storage.config;
  meta->config.kind = static_cast<uint32_t>(s.kind);
  meta->config.capacity = s.capacity;
  meta->config.segment_bytes = s.segment_bytes;
  std::memcpy(meta->config.data_dir, s.data_dir.data(), s.data_dir.size());
  meta->config.fsync = static_cast<uint32_t>(s.fsync);
  meta->config.fsync_interval_ms = static_cast<uint32_t>(s.fsync_interval.count());
  meta->config.retain_bytes = s.retain_bytes;
  meta->config.retain_age_ms = static_cast<uint64_t>(s.retain_age.count());
  if (storage.start) {  // a journal found on disk continues where it ends
    meta->tail.position.store(storage.start->end_position, std::memory_order_relaxed);
    meta->tail.seq.store(storage.start->next_seq, std::memory_order_relaxed);
    meta->flush.flushed_position.store(storage.start->end_position, std::memory_order_relaxed);
    meta->flush.flushed_seq.store(storage.start->next_seq, std::memory_order_relaxed);
    meta->journal.first_position.store(storage.start->first_position, std::memory_order_relaxed);
  }
  meta->config.policy = static_cast<uint32_t>(config.policy);
  meta->config.unblock_timeout_ns = static_cast<uint64_t>(config.unblock_timeout.count()) * 1'000'000;
  meta->config.subscriber_timeout_ns = static_cast<uint64_t>(config.subscriber_timeout.count()) * 1'000'000;
  meta->config.single_publisher = config.single_publisher ? 1 : 0;
  meta->config.created_ns = base::realtime_ns();
  std::memcpy(meta->config.name, name.data(), name.size());
  for (PublisherSlot& slot : meta->publishers) slot.intent.store(kNoIntent, std::memory_order_relaxed);
}

log::StorageConfig storage_config(const TopicConfigBlock& c) {
  log::StorageConfig s;
  s.kind = static_cast<TopicKind>(c.kind);
  s.capacity = c.capacity;
  s.segment_bytes = c.segment_bytes;
  // A damaged meta may lack the NUL: never read past the field.
  s.data_dir.assign(c.data_dir, strnlen(c.data_dir, sizeof c.data_dir));
  s.fsync = static_cast<FsyncPolicy>(c.fsync);
  s.fsync_interval = std::chrono::milliseconds(c.fsync_interval_ms);
  s.retain_bytes = c.retain_bytes;
  s.retain_age = std::chrono::milliseconds(c.retain_age_ms);
  return s;
}

void check_meta(const TopicMeta& meta, const std::string& path, const std::string& name) {
  const TopicConfigBlock& c = meta.config;
  if (c.policy > static_cast<uint32_t>(Policy::kOverwrite)) {
    throw Error(path + ": unknown policy " + std::to_string(c.policy) +
                    "; the topic's files are damaged: remove the topic directory", ErrorKind::kCorrupt);
  }
  if (c.single_publisher > 1) {
    throw Error(path + ": bad single-publisher flag; the topic's files are damaged: remove the topic directory",
                ErrorKind::kCorrupt);
  }
  if (strnlen(c.data_dir, sizeof c.data_dir) == sizeof c.data_dir) {
    throw Error(path + ": bad data directory; the topic's files are damaged: remove the topic directory", ErrorKind::kCorrupt);
  }
  log::Storage::check_stored(storage_config(c), path);
  if (std::strncmp(c.name, name.c_str(), sizeof c.name) != 0) {
    throw Error(path + ": meta names another topic; the topic's files are damaged: remove the topic directory",
                ErrorKind::kCorrupt);
  }
}

// Removes a half-made topic directory unless the creation got as far as renaming it into place.
class TempDirGuard {
 public:
  explicit TempDirGuard(std::string path) : path_(std::move(path)) {}
  ~TempDirGuard() {
    std::error_code ignored;
    if (!path_.empty()) fs::remove_all(path_, ignored);
  }
  TempDirGuard(const TempDirGuard&) = delete;
  TempDirGuard& operator=(const TempDirGuard&) = delete;
  void release() noexcept { path_.clear(); }

 private:
  std::string path_;
};
}  // namespace

void validate_config(const TopicConfig& config, const std::string& topic) {
  log::Storage::validate(config, topic);
  if (config.data_dir.size() >= kMaxDataDirBytes - 1) {
    throw Error("topic " + topic + ": data directory path is longer than " + std::to_string(kMaxDataDirBytes - 2) +
                    " bytes", ErrorKind::kInvalidArgument);
  }
  if (config.unblock_timeout.count() <= 0 || config.subscriber_timeout.count() <= 0) {
    throw Error("topic " + topic + ": unblock and subscriber timeouts must be positive", ErrorKind::kInvalidArgument);
  }
}

bool TopicHandle::create(const std::string& dir, const std::string& name, const TopicConfig& config, unsigned mode) {
  validate_config(config, name);
  try {
    return create_in(dir, name, config, mode);
  } catch (const fs::filesystem_error& e) {
    throw Error(dir + ": cannot create topic " + name + " (" + e.code().message() +
                    "); check the bus directory's permissions and free space", ErrorKind::kIo);
  }
}

bool TopicHandle::create_in(const std::string& dir, const std::string& name, const TopicConfig& config, unsigned mode) {
  if (fs::exists(dir)) return false;
  // A leading '.' makes an invalid topic name: no topic can collide with a half-made one.
  const fs::path target(dir);
  const std::string temp =
      (target.parent_path() / ("." + target.filename().string() + ".creating." + base::unique_suffix())).string();
  fs::remove_all(temp);
  fs::create_directory(temp);
  TempDirGuard guard(temp);
  fs::permissions(temp, static_cast<fs::perms>(mode | 0100 | 0010), fs::perm_options::replace);
  const log::CreatedStorage storage = log::Storage::create(temp, dir, config, mode);
  base::MappedFile::create(temp + "/meta", sizeof(TopicMeta), mode,
                           [&](std::byte* at) { init_meta(at, name, config, storage); });
  // rename(2) of a directory onto an existing non-empty one fails: exactly one creator wins.
  if (::rename(temp.c_str(), dir.c_str()) != 0) {
    const int err = errno;
    if (err == EEXIST || err == ENOTEMPTY) return false;
    throw Error(dir + ": cannot create topic (" + std::strerror(err) + ")", ErrorKind::kIo);
  }
  guard.release();
  return true;
}

std::shared_ptr<TopicHandle> TopicHandle::open(const std::string& dir, base::Access access) {
  try {
    return open_checked(dir, access);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kNotShmbus && e.kind() != ErrorKind::kCorrupt) throw;
    // Said in the topic's words: the file's own message reads as if the bus were wrong.
    throw Error("topic " + fs::path(dir).filename().string() + " is damaged: " + e.what() +
                    ". Its records cannot be read: stop its publishers and subscribers, remove " + dir +
                    " and create the topic again", e.kind());
  }
}

std::shared_ptr<TopicHandle> TopicHandle::open_checked(const std::string& dir, base::Access access) {
  auto h = std::make_shared<TopicHandle>();
  h->name_ = fs::path(dir).filename().string();
  h->meta_file_ = base::MappedFile::open(dir + "/meta", base::Access::kReadWrite);
  log::check_file_header(h->meta_file_.data(), h->meta_file_.size(), log::FileKind::kTopicMeta, dir + "/meta");
  TopicMeta& m = h->meta();
  check_meta(m, dir + "/meta", h->name_);
  const log::StorageWords words{&m.tail, &m.flush, &m.flushed, &m.journal};
  h->storage_ = log::Storage::open(dir, storage_config(m.config), words, access);
  return h;
}

void TopicHandle::start_background() {
  TopicMeta& m = meta();
  storage_->start_background([&m](uint64_t tail, uint64_t deleting_below) {
    constexpr uint64_t kNobody = ~0ull;
    const uint64_t claims = std::min(tail, min_publisher_intent(m, kNobody));
    // The dead, and the stalled past their timeout, do not hold the disk (they move on later).
    evict_subscribers(m, deleting_below, base::monotonic_ns());
    return std::min(claims, min_subscriber_position(m, kNobody));
  });
}

TopicConfig TopicHandle::config() const noexcept {
  const TopicConfigBlock& c = meta().config;
  TopicConfig config;
  config.kind = static_cast<TopicKind>(c.kind);
  config.data_dir.assign(c.data_dir, strnlen(c.data_dir, sizeof c.data_dir));
  config.segment_bytes = c.segment_bytes;
  config.fsync = static_cast<FsyncPolicy>(c.fsync);
  config.fsync_interval = std::chrono::milliseconds(c.fsync_interval_ms);
  config.retain_bytes = c.retain_bytes;
  config.retain_age = std::chrono::milliseconds(c.retain_age_ms);
  config.capacity = c.capacity;
  config.policy = static_cast<Policy>(c.policy);
  config.unblock_timeout = std::chrono::milliseconds(c.unblock_timeout_ns / 1'000'000);
  config.subscriber_timeout = std::chrono::milliseconds(c.subscriber_timeout_ns / 1'000'000);
  config.single_publisher = c.single_publisher != 0;
  return config;
}

}  // namespace shmbus::topic
