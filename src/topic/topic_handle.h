// An open topic: its meta and its log mapped, shared by the publishers and subscribers that
// use it (they hold a shared_ptr, so the mappings outlive the Bus object if need be).
#pragma once

#include <memory>
#include <mutex>
#include <thread>
#include <string>

#include "log/mapped_file.h"
#include "log/log_storage.h"
#include "shmbus/topic.h"
#include "topic/topic_meta.h"

namespace shmbus::journal {
class SegmentSet;
}

namespace shmbus::topic {

class TopicHandle {
 public:
  // Creates the topic directory `dir` (meta + ring, or meta + segment directory) atomically:
  // files are made in a temporary directory that is renamed into place. Returns false if it
  // exists already. A journal whose data directory holds segments already (the bus was lost,
  // e.g. by a reboot) is recovered: its tail is found, torn bytes cut, abandoned claims voided.
  static bool create(const std::string& dir, const std::string& name, const TopicConfig& config, unsigned mode);
  // Opens an existing topic; the ring is mapped read-only for subscribers (ring_access).
  // Throws Error on a missing, foreign, truncated or inconsistent topic.
  static std::shared_ptr<TopicHandle> open(const std::string& dir, log::Access ring_access);

  TopicMeta& meta() const noexcept { return *reinterpret_cast<TopicMeta*>(meta_file_.data()); }
  const log::LogStorage& storage() const noexcept { return storage_; }
  const std::string& name() const noexcept { return name_; }
  TopicKind kind() const noexcept { return static_cast<TopicKind>(meta().config.kind); }
  // The file that holds `position` and the offset there (to map one page writable: unblocking).
  std::pair<std::string, size_t> file_offset_of(uint64_t position) const;
  // Journal topics: where the segments are.
  std::string data_dir() const { return meta().config.data_dir; }
  // Journal topics: why the last segment could not be made or mapped in this process, or "".
  std::string storage_error() const;
  // Memory topics: faults the ring's pages in (once per process), so that the first lap does not
  // pay a page fault every 4 KiB (microseconds each, in the latency tail). Publishers and
  // subscribers call it; stats and the CLI's listing do not.
  void populate_ring();
  // Journal topics: starts this process's background flusher (fsync `interval`) and retention
  // passes (retain bytes/age), once; they stop with the handle. Called by publishers: the
  // processes that grow a journal are the ones that flush and trim it.
  void start_journal_threads();
  TopicConfig config() const noexcept;
  Policy policy() const noexcept { return static_cast<Policy>(meta().config.policy); }
  // Largest record (header included) that fits: half a lap, so padding + record fit in a lap.
  uint64_t max_record_bytes() const noexcept;

 private:
  static std::shared_ptr<TopicHandle> open_checked(const std::string& dir, log::Access ring_access);

  std::string name_;
  log::MappedFile meta_file_;
  log::MappedFile ring_file_;                         // memory topics
  std::shared_ptr<journal::SegmentSet> segments_;    // journal topics
  log::LogStorage storage_;
  std::once_flag ring_populated_;
  std::once_flag journal_threads_started_;
  // The threads last: stopped and joined before the mappings go.
  std::jthread flusher_;
  std::jthread retention_;
};

// Throws Error unless the config can make a topic (capacity a power of two in range, ...).
void validate_config(const TopicConfig& config, const std::string& topic);

}  // namespace shmbus::topic
