// An open topic: its meta and its storage mapped, shared by the publishers and subscribers that
// use it (they hold a shared_ptr, so the mappings outlive the Bus object if need be). It never
// asks which kind of storage it has: log::Storage answers for both.
#pragma once

#include <memory>
#include <string>

#include "base/mapped_file.h"
#include "log/storage.h"
#include "shmbus/topic.h"
#include "topic/topic_meta.h"

namespace shmbus::topic {

class TopicHandle {
 public:
  // Creates the topic directory `dir` (meta + storage files) atomically: files are made in a
  // temporary directory that is renamed into place, and removed again if any step fails.
  // Returns false if the topic exists already.
  static bool create(const std::string& dir, const std::string& name, const TopicConfig& config, unsigned mode);
  // Opens an existing topic; records are mapped read-only for subscribers (`access`).
  // Throws Error on a missing, foreign, truncated or inconsistent topic.
  static std::shared_ptr<TopicHandle> open(const std::string& dir, base::Access access);

  TopicMeta& meta() const noexcept { return *reinterpret_cast<TopicMeta*>(meta_file_.data()); }
  const log::Storage& storage() const noexcept { return *storage_; }
  log::Storage& storage() noexcept { return *storage_; }
  const log::LogStorage& log() const noexcept { return storage_->log(); }
  const std::string& name() const noexcept { return name_; }
  TopicConfig config() const noexcept;
  Policy policy() const noexcept { return static_cast<Policy>(meta().config.policy); }
  uint64_t max_record_bytes() const noexcept { return storage_->max_record_bytes(); }
  // True once the topic was removed from its bus (its files are unlinked; the mappings stay).
  bool removed() const noexcept {
    // SYNC: topic removed (read) — acquire pairs with the release in bus/topic_removal.cc.
    return meta().counters.removed.load(std::memory_order_acquire) != 0;
  }
  // Publishers: starts the storage's background work (flushing, retention) once; retention
  // keeps what live subscribers and claims still need.
  void start_background();

 private:
  static bool create_in(const std::string& dir, const std::string& name, const TopicConfig& config, unsigned mode);
  static std::shared_ptr<TopicHandle> open_checked(const std::string& dir, base::Access access);
  std::string name_;
  base::MappedFile meta_file_;
  std::unique_ptr<log::Storage> storage_;  // after the meta: its words live there
};

// Throws Error unless the config can make a topic (capacity a power of two in range, ...).
void validate_config(const TopicConfig& config, const std::string& topic);

}  // namespace shmbus::topic
