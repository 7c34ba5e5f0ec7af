// wait(): the one wait loop of a subscriber and of a pattern subscriber (many subscribers, one
// futex). Spin, yield or block until something is ready, the liveness work says something
// changed, or the deadline passes.
#pragma once

#include <sched.h>

#include <algorithm>
#include <cstdint>

#include "shmbus/error.h"
#include "shmbus/message.h"
#include "base/futex.h"
#include "base/process_identity.h"

namespace shmbus::detail {

// Spinning starts with cheap checks: the clock and the liveness work come every 64th round.
inline constexpr uint32_t kWaitRoundsPerClockCheck = 64;
// A sleeper wakes this often even when nobody rings: it re-checks stuck frames (a dead
// publisher's claim), and a pattern subscriber looks at the registry, should a wake-up have
// been lost (a waker killed between its state change and its wake).
inline constexpr int64_t kMaxSleepNs = 5'000'000;

// `ready()`: something to read (with seq_cst loads, for sleep_once's Dekker pair).
// `wakers_fence`: false if a publisher may commit by a plain store (a single-publisher topic).
// `keep_alive(now_ns)`: the liveness work (unblock stuck claims, heartbeat); true if it changed
// something the caller should look at. `futex`: the word publishers ring for us.
// Returns {} when ready or changed, Errc::kTimeout at the deadline. Allocates nothing.
template <class Ready, class KeepAlive>
Result<void> wait_loop(WaitStrategy wait, base::Wakeup& futex, bool wakers_fence, int64_t deadline_ns, Ready&& ready,
                       KeepAlive&& keep_alive) noexcept {
  for (uint32_t rounds = 1;; ++rounds) {
    if (ready()) return {};
    if (wait != WaitStrategy::kBlock && rounds % kWaitRoundsPerClockCheck != 0) {
      // kSpin polls back to back (no pause): a pause would add its 10-20 ns to every message
      // that finds the reader waiting; kSpin is the strategy that gives a core to latency.
      if (wait == WaitStrategy::kYield) sched_yield();
      continue;
    }
    const int64_t now = base::monotonic_ns();
    if (keep_alive(now)) return {};
    if (now >= deadline_ns) return Errc::kTimeout;
    if (wait == WaitStrategy::kBlock) base::sleep_once(futex, ready, std::min(deadline_ns - now, kMaxSleepNs), wakers_fence);
  }
}

}  // namespace shmbus::detail
