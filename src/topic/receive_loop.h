// receive(): poll; if nothing was ready, wait and poll again, until a record or the deadline.
#pragma once

#include <chrono>

#include "shmbus/error.h"
#include "shmbus/message.h"
#include "shmbus/sample.h"
#include "base/process_identity.h"

namespace shmbus::detail {

// A spinning receiver polls a while before it waits: poll() delivers the moment the record
// lands, while a wait returns first and polls after (a second read of the frame, 10-15 ns).
inline constexpr int kSpinPollsBeforeWait = 64;

template <class Impl>
Result<size_t> receive_loop(Impl& impl, MessageHandler handler, size_t max, std::chrono::nanoseconds timeout) noexcept {
  const int64_t deadline = base::monotonic_ns() + timeout.count();
  const int polls = impl.wait_strategy() == WaitStrategy::kSpin ? kSpinPollsBeforeWait : 1;
  for (bool woken = false;; woken = true) {
    for (int i = 0; i < polls; ++i) {
      Result<size_t> n = impl.poll(handler, max);
      if (!n || *n > 0) return n;
    }
    // A wait that ended with work to do (padding, an unblock, a new topic) gave no record: the
    // deadline still holds, even if something keeps saying "ready" and poll() finds nothing.
    if (woken && base::monotonic_ns() >= deadline) return size_t{0};
    Result<void> w = impl.wait_until(deadline);
    if (!w) return w.error() == Errc::kTimeout ? impl.poll(handler, max) : w.error();
  }
}

// The pull-style receive: try_receive(); if nothing was ready, wait and try again.
template <class Impl>
Result<Sample> receive_sample_loop(Impl& impl, std::chrono::nanoseconds timeout) noexcept {
  const int64_t deadline = base::monotonic_ns() + timeout.count();
  const int polls = impl.wait_strategy() == WaitStrategy::kSpin ? kSpinPollsBeforeWait : 1;
  for (;;) {
    for (int i = 0; i < polls; ++i) {
      Result<Sample> got = impl.try_receive();
      if (got || got.error() != Errc::kTimeout) return got;
    }
    Result<void> w = impl.wait_until(deadline);
    if (!w) return w.error() == Errc::kTimeout ? impl.try_receive() : Result<Sample>(w.error());
  }
}

// A controlled poll over a plain one: the handler's kStop ends the batch.
template <class Impl>
Result<size_t> controlled_poll(Impl& impl, ControlledHandler handler, size_t max) noexcept {
  auto each = [&](const Message& m) {
    if (handler(m) == PollAction::kStop) impl.stop_batch();
  };
  return impl.poll(each, max);
}

}  // namespace shmbus::detail
