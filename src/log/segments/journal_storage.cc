#include "log/segments/journal_storage.h"

#include <filesystem>

#include "base/periodic_thread.h"
#include "base/process_identity.h"
#include "log/segments/flusher.h"
#include "log/segments/journal_stats.h"
#include "log/segments/recovery.h"
#include "log/segments/retention.h"
#include "log/segments/segment_file.h"
#include "log/segments/segment_set.h"
#include "log/segments/time_index.h"
#include "log/record_format.h"

namespace shmbus::log::segments {
namespace fs = std::filesystem;
namespace {
constexpr std::chrono::milliseconds kRetentionEvery{100};
}  // namespace

CreatedStorage JournalStorage::create_files(const std::string& temp_dir, const std::string& final_dir,
                                            const TopicConfig& config) {
  CreatedStorage created;
  StorageConfig& c = created.config;
  c.kind = TopicKind::kJournal;
  c.segment_bytes = config.segment_bytes;
  c.fsync = config.fsync;
  c.fsync_interval = config.fsync_interval;
  c.retain_bytes = config.retain_bytes;
  c.retain_age = config.retain_age;
  // Default: beside the meta, inside the topic directory (made in the temporary directory and
  // renamed with it). Elsewhere: it may hold a journal already, which continues.
  const bool beside = config.data_dir.empty();
  c.data_dir = beside ? final_dir + "/segments" : fs::absolute(config.data_dir).lexically_normal().string();
  const std::string make = beside ? temp_dir + "/segments" : c.data_dir;
  std::error_code ec;
  fs::create_directories(make, ec);
  if (ec) throw Error(make + ": cannot create the journal directory (" + ec.message() + ")", ErrorKind::kIo);
  if (!beside) {
    const JournalCheck found = check_journal(c.data_dir, /*repair=*/true);
    created.start = LogStart{found.end_position, found.next_seq,
                             found.segments == 0 ? found.end_position : found.first_position};
  }
  return created;
}

JournalStorage::JournalStorage(const StorageConfig& config, StorageWords words, base::Access access)
    : config_(config), words_(words) {
  segments_ = std::make_shared<SegmentSet>(config.data_dir, config.segment_bytes, access, &words.journal->first_position);
  log_ = LogStorage::segments(segments_.get(), config.segment_bytes, access == base::Access::kReadWrite);
  seals_records_ = true;
  durable_on_commit_ = config.fsync == FsyncPolicy::kAlways;
  cursor_dir_ = config.data_dir;
}

JournalStorage::~JournalStorage() = default;

void JournalStorage::after_commit(std::byte* frame, uint64_t position) noexcept {
  // The segment is mapped from its header page on (segment_set.cc).
  const uint64_t lap = log_.lap_bytes();
  std::byte* segment_header = frame - (position & (lap - 1)) - kSegmentHeaderBytes;
  note_record_time(segment_header, lap, position, header_of(frame)->timestamp_ns);
}

Result<void> JournalStorage::durable_through(const LogStorage& log, uint64_t end, int64_t timeout_ns) noexcept {
  return flush_through(words_, log, end, timeout_ns);
}

uint64_t JournalStorage::time_seek_start(uint64_t earliest, uint64_t tail, int64_t timestamp_ns) const {
  return segments::time_seek_start(config_.data_dir, config_.segment_bytes, earliest, tail, timestamp_ns);
}

void JournalStorage::start_background(ProtectedFrom protected_from) {
  std::call_once(started_, [this, protected_from = std::move(protected_from)] {
    if (config_.fsync == FsyncPolicy::kInterval) {
      flusher_ = base::periodic_thread(config_.fsync_interval, [this, log = log_] {
        flush_once(words_, log);  // its own copy of the log: its own segment cache
      });
    }
    if (config_.retain_bytes == 0 && config_.retain_age.count() == 0) return;
    const RetentionLimits limits{config_.segment_bytes, config_.retain_bytes, config_.retain_age.count() * 1'000'000,
                                 config_.fsync != FsyncPolicy::kNever};
    auto pass = [this, limits, protected_from] {
      try {
        enforce_retention(words_, limits, config_.data_dir, base::realtime_ns(), protected_from);
      } catch (const Error&) {
        // The directory cannot be read right now: the next pass tries again.
      }
    };
    // Every segment the publishers start, and every so often (age passes while idle).
    segments_->set_before_create(pass);
    retention_ = base::periodic_thread(kRetentionEvery, pass);
  });
}

void JournalStorage::fill_stats(TopicStats& s) const {
  // Relaxed: statistics.
  s.flushed_position = words_.flush->flushed_position.load(std::memory_order_relaxed);
  s.flushes = words_.flush->flushes.load(std::memory_order_relaxed);
  s.flushed_records = words_.flush->flushed_records.load(std::memory_order_relaxed);
  fill_journal_stats(*words_.journal, config_.segment_bytes, config_.data_dir, s);
}

std::string JournalStorage::last_error() const { return segments_->last_error(); }

std::pair<std::string, size_t> JournalStorage::file_offset_of(uint64_t position) const {
  const uint64_t index = position / log_.lap_bytes();
  return {segments_->segment_path(index), segments_->records_offset() + (position & (log_.lap_bytes() - 1))};
}

}  // namespace shmbus::log::segments
