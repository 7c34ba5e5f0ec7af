// Sleeping and waking through a futex word in shared memory.
//
// The race this prevents (a lost wake-up), as numbered steps:
//   waker:   1. commit the record (seq_cst)      2. read sleepers (seq_cst)
//   sleeper: a. sleepers += 1 (seq_cst)          b. re-check for a record (seq_cst)  c. futex_wait
// With all four seq_cst, 2 cannot miss a AND b miss 1: either the waker sees a sleeper (and
// bumps the futex word, so c returns at once even if it had not slept yet), or the sleeper sees
// the record and does not sleep. The futex word is read before a, so a bump between b and c is
// seen by the kernel's compare in c.
// Protocol spec: docs/format.md section 8 and 11.7.
#pragma once

#include <atomic>
#include <cstdint>

#include "base/asymmetric_fence.h"
#include "base/cache_line.h"

namespace shmbus::base {

// A futex word and the count of those asleep on it. Publishers pay for a wake-up syscall only
// when `sleepers` is non-zero (the Dekker pair in wakeup.h).
struct alignas(kHotPad) Wakeup {
  std::atomic<uint32_t> futex;
  std::atomic<uint32_t> sleepers;
};


// Blocks while `word` == expected, at most timeout_ns. Returns early on a wake or a signal.
void futex_wait(std::atomic<uint32_t>& word, uint32_t expected, int64_t timeout_ns) noexcept;
void futex_wake_all(std::atomic<uint32_t>& word) noexcept;

// Waker side: call after the state change (which must be seq_cst). Costs one load when nobody
// sleeps. SYNC: wakeup (wake) — pairs with sleep_once().
inline void wake_sleepers(Wakeup& w) noexcept {
  if (w.sleepers.load(std::memory_order_seq_cst) == 0) return;
  // Relaxed is enough: the futex syscall orders it, and the word is only compared, never read for data.
  w.futex.fetch_add(1, std::memory_order_relaxed);
  futex_wake_all(w.futex);
}

// Waker side when the state change was a plain store (a single publisher's commit): the waker's
// CPU may still hold the store when it reads `sleepers`, so the sleeper must have called
// heavy_fence() (sleep_once with `waker_fences` false), or the waker fences here itself.
// SYNC: wakeup (wake) — pairs with sleep_once()'s heavy_fence().
inline void wake_sleepers_after_plain_store(Wakeup& w, bool registered_for_heavy_fence) noexcept {
  if (registered_for_heavy_fence) {
    light_fence();
  } else {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  wake_sleepers(w);
}

// Sleeper side: one registration, re-check and sleep of at most timeout_ns. `ready()` must read
// with seq_cst. `waker_fences` false: some waker may change the state by a plain store
// (wake_sleepers_after_plain_store), so the registration is followed by heavy_fence().
// Returns ready()'s answer from before sleeping. SYNC: wakeup (sleep).
template <class Ready>
bool sleep_once(Wakeup& w, Ready&& ready, int64_t timeout_ns, bool waker_fences = true) noexcept {
  // Acquire: pairs with nothing in particular; the kernel compares the value we pass.
  const uint32_t seen = w.futex.load(std::memory_order_acquire);
  w.sleepers.fetch_add(1, std::memory_order_seq_cst);
  if (!waker_fences) heavy_fence();  // pairs with the waker's light_fence() (asymmetric_fence.h)
  const bool was_ready = ready();
  if (!was_ready) futex_wait(w.futex, seen, timeout_ns);
  // Release: the sleeper count is advisory; a late decrement only costs a waker one syscall.
  w.sleepers.fetch_sub(1, std::memory_order_release);
  return was_ready;
}

}  // namespace shmbus::base
