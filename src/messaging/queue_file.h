// One queue's state file on one journal topic (layout: messaging/queue_state.h): creating it
// atomically, opening and checking it, and the entry-level steps every consumer uses.
#pragma once

#include <memory>
#include <string>

#include "base/mapped_file.h"
#include "messaging/queue_state.h"
#include "shmbus/queue.h"

namespace shmbus::messaging {

// Where the queue starts on a topic whose state file is new: its records from `seq` at
// `position` on.
struct QueueStart {
  uint64_t position = 0;
  uint64_t seq = 0;
};

class QueueFileHandle {
 public:
  // Opens `<cursor_dir>/queues/<queue>`, creating it (starting at `start`) if missing. Throws
  // Error on a foreign, damaged or differently configured file, saying what to do.
  static std::shared_ptr<QueueFileHandle> open_or_create(const std::string& cursor_dir, const std::string& queue,
                                                         const std::string& topic, const QueueConfig& config,
                                                         const QueueStart& start);
  QueueFile& file() const noexcept { return *reinterpret_cast<QueueFile*>(map_.data()); }
  Entry& entry(uint64_t seq) const noexcept { return entries_[seq & mask_]; }
  uint64_t window() const noexcept { return mask_ + 1; }
  uint16_t lap_of(uint64_t seq) const noexcept {
    return static_cast<uint16_t>((seq >> shift_) & Control::kLapMask);
  }
  const std::string& path() const noexcept { return map_.path(); }
  // Makes every settlement so far durable (msync of the whole file): one call for a batch.
  bool sync() noexcept { return map_.sync(); }

 private:
  base::MappedFile map_;
  Entry* entries_ = nullptr;
  uint64_t mask_ = 0;
  uint32_t shift_ = 0;
};

// The 16-byte pair of an entry, read consistently (control, time, control again) and CAS'd.
struct EntryPair {
  uint64_t control = 0;
  int64_t time = 0;
  bool operator==(const EntryPair&) const = default;
};
EntryPair load_entry(const Entry& e) noexcept;
// SYNC: entry (take / settle) — seq_cst (cmpxchg16b); on failure `expected` gets what is there.
bool cas_entry(Entry& e, EntryPair& expected, EntryPair desired) noexcept;

}  // namespace shmbus::messaging
