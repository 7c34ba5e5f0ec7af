// A topic's storage: where its records live (a ring in shared memory, or journal segments on
// disk) and the few things that differ between the two. This is the one place above which a
// journal topic and a memory topic look alike: the topic layer calls these hooks and never asks
// which kind it has (DESIGN.md section 7). The factory (storage.cc) is the only code that does.
//
// Hot-path hooks (seal, after_commit) are called only when the storage asked for them
// (seals_records()), so a ring pays one predictable branch and no call.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "base/mapped_file.h"
#include "log/log_storage.h"
#include "log/storage_state.h"
#include "shmbus/error.h"
#include "shmbus/topic.h"

namespace shmbus::log {

// What a storage is made from: the storage part of TopicConfig, as the topic's meta keeps it.
struct StorageConfig {
  TopicKind kind = TopicKind::kMemory;
  uint64_t capacity = 0;        // ring bytes
  uint64_t segment_bytes = 0;   // journal segments
  std::string data_dir;         // journal: absolute path of the segment directory
  FsyncPolicy fsync = FsyncPolicy::kNever;
  std::chrono::milliseconds fsync_interval{0};
  uint64_t retain_bytes = 0;
  std::chrono::milliseconds retain_age{0};
};

// Where a new topic's log starts: at zero, or where a journal found on disk ends.
struct LogStart {
  uint64_t end_position = 0;
  uint64_t next_seq = 0;
  uint64_t first_position = 0;
};

// The result of making a topic's storage files: the config as stored (data_dir resolved) and
// where the log starts.
struct CreatedStorage {
  StorageConfig config;
  std::optional<LogStart> start;  // set when a journal was found on disk and recovered
};

class Storage {
 public:
  virtual ~Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  // Throws Error (kInvalidArgument) unless `config` can make a storage for `topic`.
  static void validate(const TopicConfig& config, const std::string& topic);
  // Throws Error (kCorrupt) unless a config read back from a meta file is one `validate` allows.
  static void check_stored(const StorageConfig& config, const std::string& meta_path);
  // Makes the files of a new topic's storage in `temp_dir` (renamed to `final_dir` by the
  // caller once everything is in place). A journal whose separate data directory holds segments
  // already (the bus was lost, e.g. by a reboot) is recovered: torn bytes cut, abandoned claims
  // voided. Throws Error with what to do; leaves nothing behind in `temp_dir` it could not finish.
  static CreatedStorage create(const std::string& temp_dir, const std::string& final_dir, const TopicConfig& config,
                               unsigned mode);
  // Maps an existing topic's storage. Readers map records read-only (`access`).
  static std::unique_ptr<Storage> open(const std::string& topic_dir, const StorageConfig& config, StorageWords words,
                                       base::Access access);

  // The frames (a value: each publisher and subscriber keeps its own copy and segment cache).
  const LogStorage& log() const noexcept { return log_; }
  // Largest record (header included) that fits: half a lap, so padding + record fit in a lap.
  uint64_t max_record_bytes() const noexcept {
    const uint64_t half = log_.lap_bytes() / 2;
    return half < 0x7FFFFFF8ull ? half : 0x7FFFFFF8ull;
  }

  // True if records carry a CRC32C (log/record_crc.h) and after_commit() wants every record.
  bool seals_records() const noexcept { return seals_records_; }
  // True if a publish returns only once its record is durable (durable_through()).
  bool durable_on_commit() const noexcept { return durable_on_commit_; }
  // True if the log outlives the bus directory, so positions (named cursors) mean something
  // after a restart; cursor_dir() then says where named cursors live.
  bool keeps_records() const noexcept { return !cursor_dir_.empty(); }
  const std::string& cursor_dir() const noexcept { return cursor_dir_; }

  // After a record at `position` (its frame `frame`) committed. Hot path: no allocation, no throw.
  virtual void after_commit(std::byte* frame, uint64_t position) noexcept;
  // Returns once everything before `end` is durable, or kStorage (the disk refused) or
  // kTimeout (a record before `end` stayed unfinished for `timeout_ns`).
  virtual Result<void> durable_through(const LogStorage& log, uint64_t end, int64_t timeout_ns) noexcept;
  // Where a time seek should start scanning (at or before the first record at `timestamp_ns`).
  virtual uint64_t time_seek_start(uint64_t earliest, uint64_t tail, int64_t timestamp_ns) const;
  // Faults the records' pages in once per process (publishers and subscribers call it).
  virtual void populate();
  // Background work of the processes that publish (flushing, retention), started once; it stops
  // with the storage. Retention deletes only below what `protected_from` returns.
  using ProtectedFrom = std::function<uint64_t(uint64_t tail, uint64_t deleting_below)>;
  virtual void start_background(ProtectedFrom protected_from);
  // Fills the storage's part of stats (tail_position and tail_seq already set).
  virtual void fill_stats(TopicStats& stats) const;
  // Why this process's last attempt to make or map storage failed ("" if none): for messages.
  virtual std::string last_error() const;
  // The file that holds `position` and the offset there (to map one page writable: unblocking).
  virtual std::pair<std::string, size_t> file_offset_of(uint64_t position) const = 0;

 protected:
  Storage() = default;
  LogStorage log_;
  bool seals_records_ = false;
  bool durable_on_commit_ = false;
  std::string cursor_dir_;
};

}  // namespace shmbus::log
