// Reads one topic from a position onward, at its own pace.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "shmbus/error.h"
#include "shmbus/message.h"
#include "shmbus/sample.h"

namespace shmbus {

namespace detail {
class SubscriberImpl;
}

// Thread-safety: one thread at a time per Subscriber. poll() allocates nothing and never throws.
class Subscriber {
 public:
  Subscriber();
  explicit Subscriber(std::unique_ptr<detail::SubscriberImpl> impl) noexcept;
  Subscriber(Subscriber&&) noexcept;
  Subscriber& operator=(Subscriber&&) noexcept;
  ~Subscriber();

  // Hands up to `max` committed records to `handler`, in position order; returns how many.
  // Being lapped is not an error: the skipped records are counted in lost() and polling goes on.
  // kCorrupt: invalid bytes at position(); nothing invalid was delivered. The handler must not throw.
  Result<size_t> poll(MessageHandler handler, size_t max = SIZE_MAX) noexcept;
  // Waits (by the subscription's strategy) until a record is ready or `timeout` passes.
  Result<void> wait(std::chrono::nanoseconds timeout) noexcept;
  // poll(); if nothing was ready, wait(timeout) and poll() again.
  Result<size_t> receive(MessageHandler handler, size_t max, std::chrono::nanoseconds timeout) noexcept;
  // Controlled poll (Aeron's): as poll(), but the handler returns PollAction::kStop to end the
  // batch after its message; the records after it are delivered by the next poll.
  Result<size_t> controlled_poll(ControlledHandler handler, size_t max = SIZE_MAX) noexcept;
  // Pull style: the next record as a Sample that pins it until released (shmbus/sample.h).
  // try_receive() never waits (kTimeout: nothing there now); receive(timeout) waits by the
  // subscription's strategy. kHeldLimit: kMaxHeldSamples samples are held; release one.
  Result<Sample> try_receive() noexcept;
  Result<Sample> receive(std::chrono::nanoseconds timeout) noexcept;
  static constexpr size_t kMaxHeldSamples = 1024;

  // Named cursor (SubscribeOptions::cursor): moves it to position(), i.e. past every record
  // delivered so far. With CommitMode::kAuto poll() does this itself after each batch.
  // kInvalidArgument if the subscriber has no named cursor.
  Result<void> commit() noexcept;

  uint64_t position() const noexcept;  // next position to read
  uint64_t received() const noexcept;  // records delivered
  // Records lost to lapping (overwrite policy), or skipped because retention removed them
  // (journal topics), counted by sequence number: exact, except that
  // a claim that never committed (aborted, unblocked, or abandoned by a publisher descheduled
  // for a whole lap) inside a skipped range counts as one too: its bytes are gone.
  uint64_t lost() const noexcept;
  std::string_view topic() const noexcept;
  explicit operator bool() const noexcept { return impl_ != nullptr; }

 private:
  std::unique_ptr<detail::SubscriberImpl> impl_;
};

}  // namespace shmbus
