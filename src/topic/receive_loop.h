// receive(): poll; if nothing was ready, wait and poll again, until a record or the deadline.
#pragma once

#include <chrono>

#include "shmbus/error.h"
#include "shmbus/message.h"
#include "topic/process_identity.h"

namespace shmbus::detail {

// A spinning receiver polls a while before it waits: poll() delivers the moment the record
// lands, while a wait returns first and polls after (a second read of the frame, 10-15 ns).
inline constexpr int kSpinPollsBeforeWait = 64;

template <class Impl>
Result<size_t> receive_loop(Impl& impl, MessageHandler handler, size_t max, std::chrono::nanoseconds timeout) noexcept {
  const int64_t deadline = topic::monotonic_ns() + timeout.count();
  const int polls = impl.wait_strategy() == WaitStrategy::kSpin ? kSpinPollsBeforeWait : 1;
  for (bool woken = false;; woken = true) {
    for (int i = 0; i < polls; ++i) {
      Result<size_t> n = impl.poll(handler, max);
      if (!n || *n > 0) return n;
    }
    // A wait that ended with work to do (padding, an unblock, a new topic) gave no record: the
    // deadline still holds, even if something keeps saying "ready" and poll() finds nothing.
    if (woken && topic::monotonic_ns() >= deadline) return size_t{0};
    Result<void> w = impl.wait_until(deadline);
    if (!w) return w.error() == Errc::kTimeout ? impl.poll(handler, max) : w.error();
  }
}

}  // namespace shmbus::detail
