// The registry: appended under a file lock, read lock-free by generation.
#include <boost/interprocess/sync/file_lock.hpp>
#include <boost/interprocess/sync/scoped_lock.hpp>

#include <cstring>
#include <filesystem>

#include "bus/bus_state.h"
#include "shmbus/error.h"
#include "base/process_identity.h"
#include "base/futex.h"

namespace shmbus::bus {
namespace fs = std::filesystem;
namespace bi = boost::interprocess;

namespace {

bool registered(const bus::Registry& r, std::string_view name) noexcept {
  uint32_t n = r.count.load(std::memory_order_acquire);
  for (uint32_t i = 0; i < n && i < bus::kMaxTopics; ++i) {
    if (std::string_view(r.entries[i].name) == name) return true;
  }
  return false;
}

// REQUIRES: the registry file lock is held.
void append_entry(bus::Registry& r, std::string_view name, const std::string& bus_path) {
  uint32_t index = r.count.load(std::memory_order_relaxed);
  if (index >= bus::kMaxTopics) {
    throw Error(bus_path + ": the registry is full (" + std::to_string(bus::kMaxTopics) +
                " topics); remove unused topics or use another bus", ErrorKind::kFull);
  }
  bus::RegistryEntry& e = r.entries[index];
  e.kind = static_cast<uint32_t>(TopicKind::kMemory);
  e.created_ns = base::realtime_ns();
  std::memset(e.name, 0, sizeof e.name);
  std::memcpy(e.name, name.data(), name.size());
  // SYNC: registry (append) — release publishes the entry; pairs with the acquire loads of
  // count and generation in registered_topics() and pattern subscribers.
  e.state.store(bus::kEntryReady, std::memory_order_release);
  r.count.store(index + 1, std::memory_order_release);
  r.generation.fetch_add(1, std::memory_order_release);
}

}  // namespace

bool BusState::create_topic(std::string_view name, const TopicConfig& config) {
  validate_topic_name(name);
  std::lock_guard<std::mutex> guard(mutex);
  bi::file_lock lock(registry_file.path().c_str());
  bi::scoped_lock<bi::file_lock> locked(lock);
  const std::string dir = topic_dir(name);
  bool created = topic::TopicHandle::create(dir, std::string(name), config, file_mode);
  if (!registered(registry(), name)) {
    append_entry(registry(), name, path);
    base::wake_sleepers(meta().doorbell);  // sleeping pattern subscribers look at the new topic
  }
  return created;
}

void BusState::reconcile_registry() {
  std::lock_guard<std::mutex> guard(mutex);
  bi::file_lock lock(registry_file.path().c_str());
  bi::scoped_lock<bi::file_lock> locked(lock);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(path + "/topics", ec)) {
    std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.') continue;  // a topic being made (".NAME.creating.PID")
    if (fs::exists(entry.path() / "meta") && !registered(registry(), name)) append_entry(registry(), name, path);
  }
}

std::vector<std::string> BusState::registered_topics(uint32_t from) const {
  std::vector<std::string> names;
  const bus::Registry& r = registry();
  uint32_t n = r.count.load(std::memory_order_acquire);
  for (uint32_t i = from; i < n && i < bus::kMaxTopics; ++i) {
    const bus::RegistryEntry& e = r.entries[i];
    if (e.state.load(std::memory_order_acquire) != bus::kEntryReady) continue;
    names.emplace_back(e.name, strnlen(e.name, sizeof e.name));
  }
  return names;
}

}  // namespace shmbus::bus
