// The bus directory's own files: bus.meta and the registry of topics.
//
//   <bus>/bus.meta   FileHeader | created_ns | topic defaults | doorbell (pattern subscribers' futex)
//   <bus>/registry   FileHeader | generation | count | RegistryEntry[kMaxTopics]
// The registry is appended under a file lock (creation is a set-up path); readers never lock:
// they load `generation` (acquire) and read entries [seen, count) whose state is kEntryReady.
#pragma once

#include <atomic>
#include <cstdint>

#include "log/file_header.h"
#include "log/record_format.h"
#include "topic/topic_meta.h"

namespace shmbus::bus {

inline constexpr uint32_t kMaxTopics = 4096;
inline constexpr uint32_t kEntryReady = 1;

struct BusMeta {
  log::FileHeader file;
  int64_t created_ns;
  uint64_t default_capacity;
  uint32_t default_policy;
  uint32_t reserved;
  uint64_t default_unblock_timeout_ms;
  uint64_t default_subscriber_timeout_ms;
  // Pattern subscribers sleep here: they cover many topics and a futex waits on one word.
  base::Wakeup doorbell;
};

struct RegistryEntry {
  std::atomic<uint32_t> state;  // 0 = empty, kEntryReady = fields below are written
  uint32_t kind;
  int64_t created_ns;
  char name[240];
};
static_assert(sizeof(RegistryEntry) == 256);

struct Registry {
  log::FileHeader file;
  alignas(log::kHotPad) std::atomic<uint64_t> generation;  // bumped after each append
  std::atomic<uint32_t> count;                               // entries [0, count) are ready
  alignas(log::kHotPad) RegistryEntry entries[kMaxTopics];
};

}  // namespace shmbus::bus
