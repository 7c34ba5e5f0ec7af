// The words a topic's storage keeps in the topic's meta (the topic lays them out, the storage
// alone interprets them): a journal's flush progress and its oldest retained position. A ring
// leaves them zero.
// Protocol spec: docs/format.md section 4.5 and 9.5.
#pragma once

#include <atomic>
#include <cstdint>

#include "base/cache_line.h"
#include "base/futex.h"
#include "log/tail.h"

namespace shmbus::log {

// Journal flushing (fsync interval/always): one flusher at a time, the others wait on `done`.
struct alignas(base::kHotPad) FlushState {
  std::atomic<uint64_t> flushed_position;  // everything before it is on disk
  std::atomic<uint64_t> flusher;           // 0, or the token of the process flushing now
  // The seq of the record at flushed_position: below the tail, a frame whose pair is not yet
  // written holds leftovers of a recycled segment, which only the seq tells from a record.
  std::atomic<uint64_t> flushed_seq;
  std::atomic<uint64_t> flushes;
  std::atomic<uint64_t> flushed_records;
};

// Journal retention: the oldest position still on disk. Moved before a segment is deleted, so
// a reader that finds a segment gone knows to move on rather than wait for it.
struct alignas(base::kHotPad) JournalState {
  std::atomic<uint64_t> first_position;
  std::atomic<uint64_t> deleted_segments;
  std::atomic<uint64_t> skipped;  // records readers skipped because retention deleted them
};

// Where a storage finds its words; they live as long as the topic's meta mapping.
struct StorageWords {
  Tail* tail = nullptr;
  FlushState* flush = nullptr;
  base::Wakeup* flushed = nullptr;  // woken when flushed_position moves
  JournalState* journal = nullptr;
};

}  // namespace shmbus::log
