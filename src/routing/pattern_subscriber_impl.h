// The pattern subscriber behind shmbus::PatternSubscriber: one SubscriberImpl per matching
// topic, more attached as the registry's generation moves.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bus/bus_state.h"
#include "shmbus/pattern_subscriber.h"
#include "base/process_identity.h"
#include "topic/subscriber_impl.h"

namespace shmbus::detail {

class PatternSubscriberImpl {
 public:
  PatternSubscriberImpl(std::shared_ptr<bus::BusState> bus, std::string pattern, const SubscribeOptions& options);

  Result<size_t> poll(MessageHandler handler, size_t max) noexcept;
  Result<void> wait(std::chrono::nanoseconds timeout) noexcept {
    return wait_until(base::monotonic_ns() + timeout.count());
  }
  Result<void> wait_until(int64_t deadline_ns) noexcept;  // CLOCK_MONOTONIC
  WaitStrategy wait_strategy() const noexcept { return options_.wait; }

  const std::string& pattern() const noexcept { return pattern_; }
  // The topic subscriber whose record the handler is being given (valid inside the handler).
  SubscriberImpl* source() const noexcept { return source_; }
  // The next record of any attached topic, as a Sample (round robin).
  Result<Sample> try_receive() noexcept;
  void stop_batch() noexcept {
    stop_ = true;
    if (source_ != nullptr) source_->stop_batch();
  }
  size_t topic_count() const noexcept { return subscribers_.size(); }
  uint64_t received() const noexcept;
  uint64_t lost() const noexcept;

 private:
  bool registry_changed() const noexcept;
  void attach_new_topics(const StartAt& start) noexcept;
  bool any_ready() noexcept;

  std::shared_ptr<bus::BusState> bus_;
  std::string pattern_;
  SubscribeOptions options_;
  std::vector<std::unique_ptr<SubscriberImpl>> subscribers_;
  uint64_t seen_generation_ = ~0ull;
  uint32_t seen_count_ = 0;
  size_t next_ = 0;  // round robin: the topic polled first next time
  SubscriberImpl* source_ = nullptr;
  bool stop_ = false;  // see stop_batch()
};

}  // namespace shmbus::detail
