// A journal topic's storage: a chain of segment files, each record sealed with a CRC32C, a
// sparse time index per segment, group-commit flushing and retention.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "log/storage.h"

namespace shmbus::log::segments {

class SegmentSet;

class JournalStorage final : public Storage {
 public:
  // Makes the segment directory of a new journal topic; returns the config as stored (data_dir
  // absolute) and, for a data directory that holds a journal already, where it ends.
  static CreatedStorage create_files(const std::string& temp_dir, const std::string& final_dir,
                                     const TopicConfig& config);
  JournalStorage(const StorageConfig& config, StorageWords words, base::Access access);
  ~JournalStorage() override;

  void after_commit(std::byte* frame, uint64_t position) noexcept override;
  Result<void> durable_through(const LogStorage& log, uint64_t end, int64_t timeout_ns) noexcept override;
  uint64_t time_seek_start(uint64_t earliest, uint64_t tail, int64_t timestamp_ns) const override;
  void start_background(ProtectedFrom protected_from) override;
  void fill_stats(TopicStats& stats) const override;
  std::string last_error() const override;
  std::pair<std::string, size_t> file_offset_of(uint64_t position) const override;

 private:
  StorageConfig config_;
  StorageWords words_;
  std::shared_ptr<SegmentSet> segments_;
  std::once_flag started_;
  // The threads last: stopped and joined before the segments go.
  std::jthread flusher_;
  std::jthread retention_;
};

}  // namespace shmbus::log::segments
