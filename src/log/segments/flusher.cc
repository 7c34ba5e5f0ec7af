#include "log/segments/flusher.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>

#include "log/claim.h"
#include "log/record_format.h"
#include "base/process_identity.h"
#include "base/futex.h"

namespace shmbus::log::segments {
namespace {

constexpr int64_t kWaitSliceNs = 1'000'000;

// msync of [from, to), one segment at a time (a frame never straddles a segment end).
bool sync_range(const log::LogStorage& log, uint64_t from, uint64_t to) noexcept {
  static const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  while (from < to) {
    const uint64_t piece = std::min(to, from + log.room(from)) - from;
    std::byte* at = log.frame(from);
    if (at == nullptr) return false;
    const auto start = reinterpret_cast<uintptr_t>(at) & ~(page - 1);
    if (::msync(reinterpret_cast<void*>(start), piece + (reinterpret_cast<uintptr_t>(at) - start), MS_SYNC) != 0) {
      return false;
    }
    from += piece;
  }
  return true;
}

}  // namespace

FlushResult flush_once(const StorageWords& words, const log::LogStorage& log) noexcept {
  const uint64_t me = base::self_token();
  uint64_t holder = 0;
  // Acquire: pairs with the release below; we see the flushed position our predecessor left.
  if (!words.flush->flusher.compare_exchange_strong(holder, me, std::memory_order_acquire)) {
    // A flusher that died holding the token must not stop every flush after it.
    if (base::owner_alive(holder) ||
        !words.flush->flusher.compare_exchange_strong(holder, me, std::memory_order_acquire)) {
      return FlushResult::kBusy;
    }
  }
  const uint64_t from = words.flush->flushed_position.load(std::memory_order_acquire);
  uint64_t seq = words.flush->flushed_seq.load(std::memory_order_relaxed);  // written with it, under the token
  // Acquire: pairs with cas_tail(); frames before the tail are claimed.
  const uint64_t tail = words.tail->position.load(std::memory_order_acquire);
  uint64_t to = from, records = 0;
  while (to < tail) {
    std::byte* f = log.frame(to);
    if (f == nullptr) break;
    // Acquire: pairs with the commit CAS; the record's bytes are in memory before we msync them.
    const log::ClaimPair pair = log::load_pair(f);
    const uint64_t frame = pair.word.frame_bytes();
    if (!pair.word.claimed_in(log.epoch(to)) || pair.seq != seq || pair.word.len <= 0 || frame == 0 ||
        frame > log.room(to)) {
      break;  // still being written (its pair comes with the commit)
    }
    records += pair.word.type == log::kTypeData;
    seq += log::seq_step(pair.word);
    to += frame;
  }
  const bool ok = to == from || sync_range(log, from, to);
  if (ok && to > from) {
    // Relaxed: read only by the next token holder, whose acquire CAS pairs with our release.
    words.flush->flushed_seq.store(seq, std::memory_order_relaxed);
    // Release: what we flushed is durable before anybody reads the new position; seq_cst for the
    // Dekker pair with waiters asleep on `flushed` (wakeup.h).
    words.flush->flushed_position.store(to, std::memory_order_seq_cst);
    // Relaxed: statistics.
    words.flush->flushes.fetch_add(1, std::memory_order_relaxed);
    words.flush->flushed_records.fetch_add(records, std::memory_order_relaxed);
  }
  // Release: pairs with the next flusher's acquire CAS.
  words.flush->flusher.store(0, std::memory_order_release);
  if (to > from) base::wake_sleepers(*words.flushed);  // only progress is worth a wake-up
  return ok ? FlushResult::kFlushed : FlushResult::kFailed;
}

Result<void> flush_through(const StorageWords& words, const log::LogStorage& log, uint64_t end, int64_t timeout_ns) noexcept {
  const int64_t deadline = base::monotonic_ns() + timeout_ns;
  auto done = [&] { return words.flush->flushed_position.load(std::memory_order_seq_cst) >= end; };
  for (;;) {
    if (done()) return {};
    if (flush_once(words, log) == FlushResult::kFailed) return Errc::kStorage;
    if (done()) return {};
    if (base::monotonic_ns() > deadline) return Errc::kTimeout;
    // Somebody else is flushing, or a record before ours is still being written: wait for the
    // next flush that makes progress (its flusher wakes us), or a slice, and try again.
    base::sleep_once(*words.flushed, done, kWaitSliceNs);
  }
}

}  // namespace shmbus::log::segments
