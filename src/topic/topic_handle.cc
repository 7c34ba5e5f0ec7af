#include "topic/topic_handle.h"

#include <unistd.h>

#include <bit>
#include <condition_variable>
#include <mutex>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>

#include "journal/flusher.h"
#include "journal/recovery.h"
#include "journal/retention.h"
#include "journal/segment_set.h"
#include "log/file_header.h"
#include "shmbus/error.h"
#include "topic/process_identity.h"

namespace shmbus::topic {
namespace fs = std::filesystem;

namespace {
constexpr uint64_t kMinCapacity = 4096;
constexpr uint64_t kMaxCapacity = 1ull << 40;
constexpr uint64_t kMinSegment = 64 * 1024;
constexpr uint64_t kMaxSegment = 1ull << 32;

bool is_journal(const TopicConfig& config) { return config.kind == TopicKind::kJournal; }

void init_meta(std::byte* at, const std::string& name, const TopicConfig& config, const std::string& data_dir,
               const journal::JournalCheck* recovered) {
  auto* meta = new (at) TopicMeta{};  // zeroed file: constructing the atomics is a formality
  log::init_file_header(&meta->file, log::FileKind::kTopicMeta, sizeof(TopicMeta));
  meta->config.kind = static_cast<uint32_t>(config.kind);
  meta->config.segment_bytes = is_journal(config) ? config.segment_bytes : 0;
  std::memcpy(meta->config.data_dir, data_dir.data(), data_dir.size());
  meta->config.fsync = static_cast<uint32_t>(config.fsync);
  meta->config.fsync_interval_ms = static_cast<uint32_t>(config.fsync_interval.count());
  if (recovered != nullptr) {  // a journal found on disk continues where it ends
    meta->tail.position.store(recovered->end_position, std::memory_order_relaxed);
    meta->tail.seq.store(recovered->next_seq, std::memory_order_relaxed);
    meta->flush.flushed_position.store(recovered->end_position, std::memory_order_relaxed);
    meta->flush.flushed_seq.store(recovered->next_seq, std::memory_order_relaxed);
    meta->journal.first_position.store(recovered->segments == 0 ? recovered->end_position : recovered->first_position,
                                       std::memory_order_relaxed);
  }
  meta->config.retain_bytes = config.retain_bytes;
  meta->config.retain_age_ms = static_cast<uint64_t>(config.retain_age.count());
  // A journal never overwrites nor waits for readers: its records stay until retention.
  meta->config.policy = static_cast<uint32_t>(is_journal(config) ? Policy::kBlock : config.policy);
  meta->config.capacity = config.capacity;
  meta->config.unblock_timeout_ns = static_cast<uint64_t>(config.unblock_timeout.count()) * 1'000'000;
  meta->config.subscriber_timeout_ns = static_cast<uint64_t>(config.subscriber_timeout.count()) * 1'000'000;
  meta->config.created_ns = realtime_ns();
  std::memcpy(meta->config.name, name.data(), name.size());
  for (PublisherSlot& s : meta->publishers) s.intent.store(kNoIntent, std::memory_order_relaxed);
}

void check_meta(const TopicMeta& meta, const std::string& path, const std::string& name) {
  const TopicConfigBlock& c = meta.config;
  auto fail = [&](const std::string& what) {
    throw Error(path + ": " + what + "; the topic's files are damaged: remove the topic directory", ErrorKind::kCorrupt);
  };
  if (c.policy > static_cast<uint32_t>(Policy::kOverwrite)) fail("unknown policy " + std::to_string(c.policy));
  if (c.kind == static_cast<uint32_t>(TopicKind::kMemory)) {
    if (!std::has_single_bit(c.capacity) || c.capacity < kMinCapacity || c.capacity > kMaxCapacity) {
      fail("capacity " + std::to_string(c.capacity) + " is not a power of two in range");
    }
  } else if (c.kind == static_cast<uint32_t>(TopicKind::kJournal)) {
    if (!std::has_single_bit(c.segment_bytes) || c.segment_bytes < kMinSegment || c.segment_bytes > kMaxSegment) {
      fail("segment size " + std::to_string(c.segment_bytes) + " is not a power of two in range");
    }
    if (c.data_dir[0] != '/' || std::memchr(c.data_dir, 0, sizeof c.data_dir) == nullptr) fail("bad data directory");
    if (c.fsync > static_cast<uint32_t>(FsyncPolicy::kAlways)) fail("unknown fsync policy " + std::to_string(c.fsync));
  } else {
    fail("unknown topic kind " + std::to_string(c.kind));
  }
  if (std::strncmp(c.name, name.c_str(), sizeof c.name) != 0) fail("meta names another topic");
}
}  // namespace

void validate_config(const TopicConfig& config, const std::string& topic) {
  if (is_journal(config)) {
    if (!std::has_single_bit(config.segment_bytes) || config.segment_bytes < kMinSegment ||
        config.segment_bytes > kMaxSegment) {
      throw Error("topic " + topic + ": segment size " + std::to_string(config.segment_bytes) +
                      " must be a power of two between 64 KiB and 4 GiB (e.g. 67108864)", ErrorKind::kInvalidArgument);
    }
    if (config.fsync == FsyncPolicy::kInterval &&
        (config.fsync_interval.count() < 1 || config.fsync_interval.count() > 3'600'000)) {
      throw Error("topic " + topic + ": fsync interval must be 1 ms .. 1 hour", ErrorKind::kInvalidArgument);
    }
    if (config.retain_bytes != 0 && config.retain_bytes < 2 * config.segment_bytes) {
      throw Error("topic " + topic + ": retain bytes " + std::to_string(config.retain_bytes) +
                      " must be 0 (keep everything) or at least two segments (" + std::to_string(2 * config.segment_bytes) +
                      ")", ErrorKind::kInvalidArgument);
    }
    if (config.retain_age.count() < 0) {
      throw Error("topic " + topic + ": retain age must be 0 (keep everything) or positive", ErrorKind::kInvalidArgument);
    }
    if (config.data_dir.size() >= kMaxDataDirBytes - 1) {
      throw Error("topic " + topic + ": data directory path is longer than " + std::to_string(kMaxDataDirBytes - 2) +
                      " bytes", ErrorKind::kInvalidArgument);
    }
  } else if (config.kind != TopicKind::kMemory) {
    throw Error("topic " + topic + ": unknown kind", ErrorKind::kInvalidArgument);
  } else if (config.retain_bytes != 0 || config.retain_age.count() != 0) {
    throw Error("topic " + topic + ": retention applies to journal topics; a memory topic keeps its ring's capacity",
                ErrorKind::kInvalidArgument);
  } else if (!std::has_single_bit(config.capacity) || config.capacity < kMinCapacity || config.capacity > kMaxCapacity) {
    throw Error("topic " + topic + ": capacity " + std::to_string(config.capacity) +
                " must be a power of two between 4096 and 2^40 bytes (e.g. 1048576, 8388608)", ErrorKind::kInvalidArgument);
  }
  if (config.unblock_timeout.count() <= 0 || config.subscriber_timeout.count() <= 0) {
    throw Error("topic " + topic + ": unblock and subscriber timeouts must be positive", ErrorKind::kInvalidArgument);
  }
}

namespace {
// The temporary directory a topic is made in: removed, with whatever got into it, unless the
// rename committed it. Every failed step (no space for the ring, no permission, a journal that
// cannot be recovered) then leaves nothing behind in /dev/shm.
class TempDirGuard {
 public:
  explicit TempDirGuard(std::string path) : path_(std::move(path)) {}
  ~TempDirGuard() {
    if (path_.empty()) return;
    std::error_code ec;  // best effort: a destructor must not throw
    fs::remove_all(path_, ec);
  }
  TempDirGuard(const TempDirGuard&) = delete;
  TempDirGuard& operator=(const TempDirGuard&) = delete;
  void commit() noexcept { path_.clear(); }

 private:
  std::string path_;
};

bool create_in(const std::string& temp, const std::string& dir, const std::string& name, const TopicConfig& config,
               unsigned mode) {
  TempDirGuard guard(temp);
  fs::remove_all(temp);
  fs::create_directory(temp);
  fs::permissions(temp, static_cast<fs::perms>(mode | 0100 | 0010), fs::perm_options::replace);
  std::string data_dir;
  std::optional<journal::JournalCheck> recovered;
  if (is_journal(config)) {
    // Default: beside the meta, inside the topic directory (made in `temp`, renamed with it).
    data_dir = config.data_dir.empty() ? dir + "/segments" : fs::absolute(config.data_dir).lexically_normal().string();
    const std::string make = config.data_dir.empty() ? temp + "/segments" : data_dir;
    std::error_code ec;
    fs::create_directories(make, ec);
    if (ec) throw Error(make + ": cannot create the journal directory (" + ec.message() + ")", ErrorKind::kIo);
    if (!config.data_dir.empty()) recovered = journal::check_journal(data_dir, /*repair=*/true);
  }
  log::MappedFile::create(temp + "/meta", sizeof(TopicMeta), mode, [&](std::byte* at) {
    init_meta(at, name, config, data_dir, recovered ? &*recovered : nullptr);
  });
  if (!is_journal(config)) {
    log::MappedFile::create(temp + "/ring", kRingDataOffset + config.capacity, mode, [&](std::byte* at) {
      log::init_file_header(at, log::FileKind::kRing, kRingDataOffset + config.capacity);
    });
  }
  // rename(2) of a directory onto an existing non-empty one fails: exactly one creator wins.
  if (::rename(temp.c_str(), dir.c_str()) != 0) {
    const int err = errno;
    if (err == EEXIST || err == ENOTEMPTY) return false;  // the guard removes our copy
    throw Error(dir + ": cannot create topic (" + std::strerror(err) + "); check the bus directory's permissions",
                ErrorKind::kIo);
  }
  guard.commit();
  return true;
}
}  // namespace

bool TopicHandle::create(const std::string& dir, const std::string& name, const TopicConfig& config, unsigned mode) {
  validate_config(config, name);
  // A leading '.' makes an invalid topic name: no topic can collide with a half-made one.
  const fs::path target(dir);
  const std::string temp =
      (target.parent_path() / ("." + target.filename().string() + ".creating." + unique_suffix())).string();
  try {
    if (fs::exists(dir)) return false;
    return create_in(temp, dir, name, config, mode);
  } catch (const fs::filesystem_error& e) {
    throw Error(temp + ": cannot create topic " + name + " (" + e.code().message() +
                    "); check the bus directory's permissions and free space", ErrorKind::kIo);
  }
}

std::shared_ptr<TopicHandle> TopicHandle::open(const std::string& dir, log::Access ring_access) {
  try {
    return open_checked(dir, ring_access);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kNotShmbus && e.kind() != ErrorKind::kCorrupt) throw;
    // Said in the topic's words: the file's own message reads as if the bus were wrong.
    throw Error("topic " + fs::path(dir).filename().string() + " is damaged: " + e.what() +
                    ". Its records cannot be read: stop its publishers and subscribers, remove " + dir +
                    " and create the topic again", e.kind());
  }
}

std::shared_ptr<TopicHandle> TopicHandle::open_checked(const std::string& dir, log::Access ring_access) {
  auto h = std::make_shared<TopicHandle>();
  h->name_ = fs::path(dir).filename().string();
  h->meta_file_ = log::MappedFile::open(dir + "/meta", log::Access::kReadWrite);
  log::check_file_header(h->meta_file_.data(), h->meta_file_.size(), log::FileKind::kTopicMeta, dir + "/meta");
  check_meta(h->meta(), dir + "/meta", h->name_);
  if (h->kind() == TopicKind::kJournal) {
    const uint64_t segment_bytes = h->meta().config.segment_bytes;
    h->segments_ = std::make_shared<journal::SegmentSet>(h->data_dir(), segment_bytes, ring_access,
                                                         &h->meta().journal.first_position);
    h->storage_ = log::LogStorage::segments(h->segments_.get(), segment_bytes, ring_access == log::Access::kReadWrite);
    return h;
  }
  h->ring_file_ = log::MappedFile::open(dir + "/ring", ring_access);
  log::check_file_header(h->ring_file_.data(), h->ring_file_.size(), log::FileKind::kRing, dir + "/ring");
  if (h->ring_file_.size() != kRingDataOffset + h->meta().config.capacity) {
    throw Error(dir + "/ring: size does not match the capacity in meta; remove the topic directory", ErrorKind::kCorrupt);
  }
  h->storage_ = log::LogStorage::ring(h->ring_file_.data() + kRingDataOffset, h->meta().config.capacity);
  return h;
}

std::pair<std::string, size_t> TopicHandle::file_offset_of(uint64_t position) const {
  const uint64_t in_lap = position & (storage_.lap_bytes() - 1);
  if (segments_ != nullptr) {
    const uint64_t index = position / storage_.lap_bytes();
    return {segments_->segment_path(index), segments_->records_offset() + in_lap};
  }
  return {ring_file_.path(), kRingDataOffset + in_lap};
}

namespace {
// Runs `work` every `interval` until the thread is asked to stop, then once more.
std::jthread periodic(std::chrono::milliseconds interval, std::function<void()> work) {
  return std::jthread([interval, work = std::move(work)](std::stop_token stop) {
    std::mutex mu;
    std::condition_variable_any cv;
    std::unique_lock lock(mu);
    // wait_for returns early only when the handle is going away (stop requested).
    while (!cv.wait_for(lock, stop, interval, [&stop] { return stop.stop_requested(); })) work();
    work();
  });
}
constexpr std::chrono::milliseconds kRetentionEvery{100};
}  // namespace

void TopicHandle::populate_ring() {
  if (kind() == TopicKind::kMemory) std::call_once(ring_populated_, [this] { ring_file_.populate(); });
}

void TopicHandle::start_journal_threads() {
  if (kind() != TopicKind::kJournal) return;
  std::call_once(journal_threads_started_, [this] {
    const TopicConfigBlock& c = meta().config;
    if (c.fsync == static_cast<uint32_t>(FsyncPolicy::kInterval)) {
      flusher_ = periodic(std::chrono::milliseconds(c.fsync_interval_ms), [this, storage = storage_] {
        journal::flush_once(meta(), storage);  // its own copy of the storage: its own segment cache
      });
    }
    if (c.retain_bytes != 0 || c.retain_age_ms != 0) {
      auto pass = [this] {
        try {
          journal::enforce_retention(meta(), data_dir(), realtime_ns());
        } catch (const Error&) {
          // The directory cannot be read right now: the next pass tries again.
        }
      };
      // Every segment the publishers start, and every so often (age passes while idle).
      segments_->set_before_create(pass);
      retention_ = periodic(kRetentionEvery, pass);
    }
  });
}

TopicConfig TopicHandle::config() const noexcept {
  const TopicConfigBlock& c = meta().config;
  TopicConfig config;
  config.kind = static_cast<TopicKind>(c.kind);
  config.data_dir = c.data_dir;
  config.segment_bytes = c.segment_bytes;
  config.fsync = static_cast<FsyncPolicy>(c.fsync);
  config.fsync_interval = std::chrono::milliseconds(c.fsync_interval_ms);
  config.retain_bytes = c.retain_bytes;
  config.retain_age = std::chrono::milliseconds(c.retain_age_ms);
  config.capacity = c.capacity;
  config.policy = static_cast<Policy>(c.policy);
  config.unblock_timeout = std::chrono::milliseconds(c.unblock_timeout_ns / 1'000'000);
  config.subscriber_timeout = std::chrono::milliseconds(c.subscriber_timeout_ns / 1'000'000);
  return config;
}

std::string TopicHandle::storage_error() const { return segments_ ? segments_->last_error() : std::string(); }

uint64_t TopicHandle::max_record_bytes() const noexcept {
  uint64_t half = storage_.lap_bytes() / 2;
  return half < 0x7FFFFFF8ull ? half : 0x7FFFFFF8ull;
}

}  // namespace shmbus::topic
