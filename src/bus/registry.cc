// The registry as the bus uses it: creating topics, matching entries to topic directories,
// listing. Changes happen under the registry's file lock; readers never lock (bus_files.h).
#include <fcntl.h>
#include <unistd.h>

#include <boost/interprocess/sync/file_lock.hpp>
#include <boost/interprocess/sync/scoped_lock.hpp>

#include <algorithm>
#include <cstddef>
#include <filesystem>

#include "base/file.h"
#include "base/futex.h"
#include "bus/bus_state.h"
#include "bus/registry.h"
#include "shmbus/error.h"

namespace shmbus::bus {
namespace fs = std::filesystem;
namespace bi = boost::interprocess;

namespace {

// Who a topic directory is: its meta's kind and creation stamp (which tells two topics of one
// name apart), read with pread so that a journal is not opened (and recovered) just for this.
struct TopicStamp {
  bool found = false;
  uint32_t kind = 0;
  int64_t created_ns = 0;
};

TopicStamp read_stamp(const std::string& dir) noexcept {
  TopicStamp s;
  const base::UniqueFd fd = base::UniqueFd::open(dir + "/meta", O_RDONLY);
  if (!fd.valid()) return s;
  constexpr size_t kBlock = offsetof(topic::TopicMeta, config);
  topic::TopicConfigBlock c;
  s.found = base::pread_full(fd.get(), &c, sizeof c, kBlock) == static_cast<ssize_t>(sizeof c);
  s.kind = c.kind;
  s.created_ns = c.created_ns;
  return s;
}

}  // namespace

void BusState::sync_entry(std::string_view name) {
  Registry& r = registry();
  const TopicStamp stamp = read_stamp(topic_dir(name));
  const uint32_t index = find_entry(r, name);
  if (index != kNoEntry) {
    EntryCopy e;
    if (stamp.found && read_entry(r.entries[index], e) && e.created_ns == stamp.created_ns) return;  // in step
    // The directory went (a remover died after renaming it) or is another topic of that name
    // (a remover died, then the name was made again): the entry is a tombstone now.
    tombstone_entry(r, index);
    base::wake_sleepers(meta().doorbell);
  }
  if (!stamp.found) return;
  const uint32_t free = free_entry(r);
  if (free == kNoEntry) {
    throw Error(path + ": the registry is full (" + std::to_string(kMaxTopics) +
                " topics exist); remove topics that are no longer used (shmbus topic rm) or use another bus",
                ErrorKind::kFull);
  }
  fill_entry(r, free, name, stamp.kind, stamp.created_ns);
  base::wake_sleepers(meta().doorbell);  // sleeping pattern subscribers look at the new topic
}

bool BusState::create_topic(std::string_view name, const TopicConfig& config) {
  validate_topic_name(name);
  std::lock_guard<std::mutex> guard(mutex);
  bi::file_lock lock(registry_file.path().c_str());
  bi::scoped_lock<bi::file_lock> locked(lock);
  const std::string dir = topic_dir(name);
  if (find_entry(registry(), name) == kNoEntry && free_entry(registry()) == kNoEntry && !fs::exists(dir)) {
    throw Error(path + ": the registry is full (" + std::to_string(kMaxTopics) + " topics exist); cannot create " +
                std::string(name) + ": remove topics that are no longer used (shmbus topic rm) or use another bus",
                ErrorKind::kFull);
  }
  const bool created = topic::TopicHandle::create(dir, std::string(name), config, file_mode);
  sync_entry(name);
  return created;
}

void BusState::reconcile_registry() {
  std::lock_guard<std::mutex> guard(mutex);
  bi::file_lock lock(registry_file.path().c_str());
  bi::scoped_lock<bi::file_lock> locked(lock);
  std::error_code ec;
  std::vector<std::string> dirs;
  for (const auto& entry : fs::directory_iterator(path + "/topics", ec)) {
    std::string name = entry.path().filename().string();
    if (name.empty()) continue;
    if (name[0] == '.') {
      // ".NAME.removed.UNIQUE": a remover died before deleting it; nobody can open it by name.
      // (".NAME.creating.UNIQUE" is left alone: its creator cleans up after itself.)
      if (name.find(".removed.") != std::string::npos) fs::remove_all(entry.path(), ec);
      continue;
    }
    dirs.push_back(std::move(name));
  }
  for (const std::string& name : dirs) {
    try {
      validate_topic_name(name);
    } catch (const Error&) {
      continue;  // not a topic directory of ours
    }
    sync_entry(name);
  }
  // Entries whose directory is gone: a remover died between its rename and its tombstone.
  const uint32_t n = load_high_water(registry());
  for (uint32_t i = 0; i < n; ++i) {
    EntryCopy e;
    if (read_entry(registry().entries[i], e) && !fs::exists(topic_dir(e.name()) + "/meta")) {
      tombstone_entry(registry(), i);
      base::wake_sleepers(meta().doorbell);
    }
  }
}

std::vector<std::string> BusState::registered_topics() const {
  std::vector<EntryCopy> live;
  const Registry& r = registry();
  const uint32_t n = load_high_water(r);
  EntryCopy e;
  for (uint32_t i = 0; i < n; ++i) {
    if (read_entry(r.entries[i], e)) live.push_back(e);
  }
  // Entries are reused, so their order is not the topics' age: sort by creation.
  std::stable_sort(live.begin(), live.end(),
                   [](const EntryCopy& a, const EntryCopy& b) { return a.created_ns < b.created_ns; });
  std::vector<std::string> names;
  names.reserve(live.size());
  for (const EntryCopy& c : live) names.emplace_back(c.name());
  return names;
}

}  // namespace shmbus::bus
