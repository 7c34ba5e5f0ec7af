// The storage factory: the one place that knows the kinds (DESIGN.md section 7).
#include "log/storage.h"

#include <bit>
#include <cstring>

#include "log/ring/ring_storage.h"
#include "log/segments/journal_storage.h"

namespace shmbus::log {
namespace {
constexpr uint64_t kMinCapacity = 4096;
constexpr uint64_t kMaxCapacity = 1ull << 40;
constexpr uint64_t kMinSegment = 64 * 1024;
constexpr uint64_t kMaxSegment = 1ull << 32;

bool ring_capacity_ok(uint64_t c) { return std::has_single_bit(c) && c >= kMinCapacity && c <= kMaxCapacity; }
bool segment_size_ok(uint64_t s) { return std::has_single_bit(s) && s >= kMinSegment && s <= kMaxSegment; }

Error invalid(const std::string& topic, const std::string& what) {
  return Error("topic " + topic + ": " + what, ErrorKind::kInvalidArgument);
}

void validate_journal(const TopicConfig& config, const std::string& topic) {
  if (config.policy != Policy::kBlock) {
    throw invalid(topic, std::string("policy ") + to_string(config.policy) +
                             " applies to memory topics; a journal never overwrites and never waits for readers "
                             "(leave the policy unset, or use retention to bound the disk)");
  }
  if (!segment_size_ok(config.segment_bytes)) {
    throw invalid(topic, "segment size " + std::to_string(config.segment_bytes) +
                             " must be a power of two between 64 KiB and 4 GiB (e.g. 67108864)");
  }
  if (config.fsync == FsyncPolicy::kInterval &&
      (config.fsync_interval.count() < 1 || config.fsync_interval.count() > 3'600'000)) {
    throw invalid(topic, "fsync interval must be 1 ms .. 1 hour");
  }
  if (config.retain_bytes != 0 && config.retain_bytes < 2 * config.segment_bytes) {
    throw invalid(topic, "retain bytes " + std::to_string(config.retain_bytes) +
                             " must be 0 (keep everything) or at least two segments (" +
                             std::to_string(2 * config.segment_bytes) + ")");
  }
  if (config.retain_age.count() < 0) throw invalid(topic, "retain age must be 0 (keep everything) or positive");
}

void validate_ring(const TopicConfig& config, const std::string& topic) {
  if (config.retain_bytes != 0 || config.retain_age.count() != 0) {
    throw invalid(topic, "retention applies to journal topics; a memory topic keeps its ring's capacity");
  }
  if (config.fsync != FsyncPolicy::kNever || !config.data_dir.empty()) {
    throw invalid(topic, "fsync and data_dir apply to journal topics; a memory topic lives in shared memory only");
  }
  if (!ring_capacity_ok(config.capacity)) {
    throw invalid(topic, "capacity " + std::to_string(config.capacity) +
                             " must be a power of two between 4096 and 2^40 bytes (e.g. 1048576, 8388608)");
  }
}
}  // namespace

void Storage::validate(const TopicConfig& config, const std::string& topic) {
  switch (config.kind) {
    case TopicKind::kJournal: return validate_journal(config, topic);
    case TopicKind::kMemory: return validate_ring(config, topic);
  }
  throw invalid(topic, "unknown kind");
}

void Storage::check_stored(const StorageConfig& c, const std::string& meta_path) {
  auto fail = [&](const std::string& what) {
    throw Error(meta_path + ": " + what + "; the topic's files are damaged: remove the topic directory", ErrorKind::kCorrupt);
  };
  switch (c.kind) {
    case TopicKind::kMemory:
      if (!ring_capacity_ok(c.capacity)) fail("capacity " + std::to_string(c.capacity) + " is not a power of two in range");
      return;
    case TopicKind::kJournal:
      if (!segment_size_ok(c.segment_bytes)) {
        fail("segment size " + std::to_string(c.segment_bytes) + " is not a power of two in range");
      }
      if (c.data_dir.empty() || c.data_dir[0] != '/') fail("bad data directory");
      if (c.fsync > FsyncPolicy::kAlways) fail("unknown fsync policy " + std::to_string(static_cast<int>(c.fsync)));
      return;
  }
  fail("unknown topic kind " + std::to_string(static_cast<int>(c.kind)));
}

CreatedStorage Storage::create(const std::string& temp_dir, const std::string& final_dir, const TopicConfig& config,
                               unsigned mode) {
  if (config.kind == TopicKind::kJournal) return segments::JournalStorage::create_files(temp_dir, final_dir, config);
  ring::RingStorage::create_file(temp_dir, config.capacity, mode);
  CreatedStorage created;
  created.config.kind = TopicKind::kMemory;
  created.config.capacity = config.capacity;
  return created;
}

std::unique_ptr<Storage> Storage::open(const std::string& topic_dir, const StorageConfig& config, StorageWords words,
                                       base::Access access) {
  if (config.kind == TopicKind::kJournal) return std::make_unique<segments::JournalStorage>(config, words, access);
  return std::make_unique<ring::RingStorage>(topic_dir, config.capacity, access);
}

// Defaults: what a ring does (nothing).
void Storage::after_commit(std::byte*, uint64_t) noexcept {}
Result<void> Storage::durable_through(const LogStorage&, uint64_t, int64_t) noexcept { return {}; }
uint64_t Storage::time_seek_start(uint64_t earliest, uint64_t, int64_t) const { return earliest; }
void Storage::populate() {}
void Storage::start_background(ProtectedFrom) {}
void Storage::fill_stats(TopicStats&) const {}
std::string Storage::last_error() const { return {}; }

}  // namespace shmbus::log
