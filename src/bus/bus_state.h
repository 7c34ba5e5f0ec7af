// What a Bus holds: its directory, its mapped bus.meta and registry, and a cache of open topics.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bus/bus_files.h"
#include "base/mapped_file.h"
#include "shmbus/bus_options.h"
#include "shmbus/message.h"
#include "shmbus/topic.h"
#include "topic/topic_handle.h"

namespace shmbus::bus {

struct BusState : std::enable_shared_from_this<BusState> {
  std::string path;
  unsigned file_mode = 0600;
  base::MappedFile meta_file;
  base::MappedFile registry_file;
  std::mutex mutex;  // threads of this process; other processes are kept out by a file lock
  std::map<std::pair<std::string, bool>, std::weak_ptr<topic::TopicHandle>> open_topics;
  size_t prune_at = 64;  // open_topics is pruned of expired handles when it doubles past this

  BusMeta& meta() const noexcept { return *reinterpret_cast<BusMeta*>(meta_file.data()); }
  Registry& registry() const noexcept { return *reinterpret_cast<Registry*>(registry_file.data()); }
  std::string topic_dir(std::string_view name) const { return path + "/topics/" + std::string(name); }
  TopicConfig topic_defaults() const noexcept;

  // Opens (or, with options.create, creates) the bus at `name_or_path`. Throws Error with what to do.
  static std::shared_ptr<BusState> open(std::string_view name_or_path, const BusOptions& options);
  // A topic's stats; named cursors of a journal topic (see shmbus::Bus).
  TopicStats stats(std::string_view name);
  void set_cursor(std::string_view topic, std::string_view name, const StartAt& where);
  bool remove_cursor(std::string_view topic, std::string_view name);

  // Creates the topic if it does not exist (and registers it). Returns true if it created it.
  bool create_topic(std::string_view name, const TopicConfig& config);
  // Removes the topic (bus/topic_removal.cc has the steps); false if there was none. Throws
  // Error (kInUse, naming the pids) if live processes hold it and not `force`.
  bool remove_topic(std::string_view name, bool force);
  // An open handle (cached per process); creates the topic with the defaults if `create`.
  std::shared_ptr<topic::TopicHandle> topic(std::string_view name, bool writable, bool create);
  // Brings the registry in step with the topic directories after crashes: registers
  // directories without an entry (a creator died in between), tombstones entries without a
  // directory (a remover died in between), deletes renamed-away directories of removals.
  void reconcile_registry();
  // The names of the topics in the registry, oldest first.
  std::vector<std::string> registered_topics() const;

  // REQUIRES: the registry file lock. Makes NAME's entry match its directory: registers it,
  // tombstones a stale entry, or both (the entry names an older topic of that name).
  void sync_entry(std::string_view name);
};

// The live processes attached to a topic, from its slots.
struct TopicHolders {
  std::vector<uint32_t> publisher_pids;
  std::vector<uint32_t> subscriber_pids;
};
TopicHolders topic_holders(const topic::TopicMeta& meta);

// Where a bus named `name_or_path` lives: a path if it holds '/', else $SHMBUS_ROOT/NAME or
// /dev/shm/shmbus/NAME.
std::string resolve_bus_path(std::string_view name_or_path);

}  // namespace shmbus::bus
