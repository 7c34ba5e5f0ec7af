// Group commit for journal topics: whoever flushes, flushes for everybody. One flusher at a time
// (a process token in the meta, taken over if its process died); it walks the committed frames
// from the flushed position, stops at the first that is still being written, msyncs that range
// and moves the flushed position. Publishers under fsync `always` wait until the flushed
// position passes their record, flushing themselves when nobody else is.
// Protocol spec: docs/format.md section 9.5.
#pragma once

#include <cstdint>

#include "log/log_storage.h"
#include "shmbus/error.h"
#include "log/storage_state.h"

namespace shmbus::log::segments {

enum class FlushResult : uint8_t { kFlushed, kBusy, kFailed };

// One flush, unless somebody else is flushing. Slow path: takes no lock but the flusher token.
FlushResult flush_once(const StorageWords& words, const log::LogStorage& log) noexcept;

// Returns once everything before `end` is on disk. kStorage if an msync failed; kTimeout if a
// record before `end` stayed unfinished (its writer stalled or died) for `timeout_ns`.
Result<void> flush_through(const StorageWords& words, const log::LogStorage& log, uint64_t end, int64_t timeout_ns) noexcept;

}  // namespace shmbus::log::segments
