// Removing a topic: refuse while live processes hold it (unless forced), rename its directory
// away in one step, tombstone its registry entry, then delete the files.
//
// The steps, under the registry's file lock (creators and other removers wait):
//   1. map the topic's meta; list the live owners of its publisher and subscriber slots, but
//      not pattern subscribers' (they detach at step 4); refuse with their pids unless `force`
//   2. mark the meta removed: a process that maps it stops handing it out for the name
//   3. rename topics/NAME -> topics/.NAME.removed.UNIQUE (rename(2): atomic; a leading '.' is no
//      topic name, so nobody opens it by name from here on, and a new NAME can be made at once)
//   4. tombstone the entry and bump the generation: pattern subscribers detach it
//   5. delete the renamed directory. Processes that map its files keep their mappings (unlink
//      semantics): their publishers and subscribers go on working on a topic nobody else sees.
// A remover that dies after 3 leaves the renamed directory and maybe a Ready entry without a
// directory: the next Bus::open (reconcile_registry) deletes the one and tombstones the other.
#include <sys/types.h>

#include <boost/interprocess/sync/file_lock.hpp>
#include <boost/interprocess/sync/scoped_lock.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "base/futex.h"
#include "base/kill_point.h"
#include "base/process_identity.h"
#include "bus/bus_state.h"
#include "bus/registry.h"
#include "log/file_header.h"
#include "shmbus/error.h"

namespace shmbus::bus {
namespace fs = std::filesystem;
namespace bi = boost::interprocess;

namespace {

bool occupied(uint64_t owner) noexcept { return owner != 0 && owner != topic::kSettingUp; }

bool follows_registry(const topic::PublisherSlot&) noexcept { return false; }
bool follows_registry(const topic::SubscriberSlot& s) noexcept {
  // Relaxed: read after the acquire of the owner, which published it (topic/slots.cc).
  return s.follows_registry.load(std::memory_order_relaxed) != 0;
}

// Pids of the live processes attached to `slots`; a pattern subscriber's topic subscribers
// detach by themselves (they follow the registry's tombstones) and do not count.
template <class Slot, size_t N>
std::vector<uint32_t> live_pids(const Slot (&slots)[N]) {
  std::vector<uint32_t> pids;
  for (const Slot& s : slots) {
    // Acquire: pairs with the slot's attach (topic/slots.cc, the owner store).
    const uint64_t owner = s.owner.load(std::memory_order_acquire);
    if (!occupied(owner) || follows_registry(s) || !base::owner_alive(owner)) continue;
    const uint32_t pid = base::token_pid(owner);
    if (std::find(pids.begin(), pids.end(), pid) == pids.end()) pids.push_back(pid);
  }
  return pids;
}

std::string pid_list(const std::vector<uint32_t>& pids) {
  std::string out;
  for (uint32_t pid : pids) out += (out.empty() ? "" : ", ") + std::to_string(pid);
  return out;
}

}  // namespace

TopicHolders topic_holders(const topic::TopicMeta& meta) {
  return {live_pids(meta.publishers), live_pids(meta.subscribers)};
}

bool BusState::remove_topic(std::string_view name, bool force) {
  validate_topic_name(name);
  std::lock_guard<std::mutex> guard(mutex);
  bi::file_lock lock(registry_file.path().c_str());
  bi::scoped_lock<bi::file_lock> locked(lock);
  const std::string dir = topic_dir(name);
  if (!fs::exists(dir + "/meta")) {
    sync_entry(name);  // a stale entry (its remover died) becomes a tombstone
    return false;
  }
  // 1.
  base::MappedFile meta_file = base::MappedFile::open(dir + "/meta", base::Access::kReadWrite);
  log::check_file_header(meta_file.data(), meta_file.size(), log::FileKind::kTopicMeta, dir + "/meta");
  auto& topic_meta = *reinterpret_cast<topic::TopicMeta*>(meta_file.data());
  const TopicHolders holders = topic_holders(topic_meta);
  if (!force && (!holders.publisher_pids.empty() || !holders.subscriber_pids.empty())) {
    std::string who;
    if (!holders.publisher_pids.empty()) who += "publishers in pid " + pid_list(holders.publisher_pids);
    if (!holders.subscriber_pids.empty()) {
      who += (who.empty() ? "" : "; ") + std::string("subscribers in pid ") + pid_list(holders.subscriber_pids);
    }
    throw Error("topic " + std::string(name) + " on bus " + path + " is in use (" + who +
                    "): close them and retry, or remove it anyway with force (shmbus topic rm --force): "
                    "they keep working on the removed topic, which nobody else sees",
                ErrorKind::kInUse);
  }
  // 2. SYNC: topic removed (mark) — release pairs with TopicHandle::removed().
  topic_meta.counters.removed.store(1, std::memory_order_release);
  // 3.
  static std::atomic<uint64_t> removals{0};  // relaxed: only makes names unique within the process
  const std::string away = path + "/topics/." + std::string(name) + ".removed." + base::unique_suffix() + "." +
                           std::to_string(removals.fetch_add(1, std::memory_order_relaxed));
  if (::rename(dir.c_str(), away.c_str()) != 0) {
    const int err = errno;
    topic_meta.counters.removed.store(0, std::memory_order_release);  // still there: still a topic
    throw Error(dir + ": cannot remove the topic (" + std::strerror(err) + "); check the bus directory's permissions",
                ErrorKind::kIo);
  }
  SHMBUS_KILL_POINT("topic_rm.after_rename");
  // 4.
  const uint32_t index = find_entry(registry(), name);
  if (index != kNoEntry) {
    tombstone_entry(registry(), index);
    base::wake_sleepers(meta().doorbell);
  }
  open_topics.erase({std::string(name), false});
  open_topics.erase({std::string(name), true});
  // 5. Failure here leaves a directory nobody can open by name; the next open deletes it.
  std::error_code ignored;
  fs::remove_all(away, ignored);
  return true;
}

}  // namespace shmbus::bus
