// The pattern subscriber behind shmbus::PatternSubscriber: one SubscriberImpl per matching
// topic, more attached as the registry's generation moves.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bus/bus_state.h"
#include "shmbus/pattern_subscriber.h"
#include "topic/process_identity.h"
#include "topic/subscriber_impl.h"

namespace shmbus::detail {

class PatternSubscriberImpl {
 public:
  PatternSubscriberImpl(std::shared_ptr<BusState> bus, std::string pattern, const SubscribeOptions& options);

  Result<size_t> poll(MessageHandler handler, size_t max) noexcept;
  Result<void> wait(std::chrono::nanoseconds timeout) noexcept {
    return wait_until(topic::monotonic_ns() + timeout.count());
  }
  Result<void> wait_until(int64_t deadline_ns) noexcept;  // CLOCK_MONOTONIC
  WaitStrategy wait_strategy() const noexcept { return options_.wait; }

  const std::string& pattern() const noexcept { return pattern_; }
  // The topic subscriber whose record the handler is being given (valid inside the handler).
  SubscriberImpl* source() const noexcept { return source_; }
  // Releases every topic subscriber's hold (SubscriberImpl::hold()).
  void release_holds() noexcept {
    for (auto& s : subscribers_) s->release_hold();
  }
  size_t topic_count() const noexcept { return subscribers_.size(); }
  uint64_t received() const noexcept;
  uint64_t lost() const noexcept;
  const std::vector<SkippedTopic>& skipped_topics() const noexcept { return skipped_; }

 private:
  bool registry_changed() const noexcept;
  // Attaches the registry's entries past seen_count_ that match; each entry is looked at once
  // (a topic that cannot be opened is skipped, not retried on every poll).
  void attach_new_topics(const StartAt& start) noexcept;
  // Opens `name` and attaches it; on failure lists it in skipped_. True if attached.
  bool attach(const std::string& name, const StartAt& start) noexcept;
  // Tries the first `count` skipped topics again. True if one was attached.
  bool retry_skipped(size_t count) noexcept;
  void skip(const std::string& name, const char* error, ErrorKind kind) noexcept;
  bool any_ready() noexcept;

  std::shared_ptr<BusState> bus_;
  std::string pattern_;
  SubscribeOptions options_;
  std::vector<std::unique_ptr<SubscriberImpl>> subscribers_;
  uint64_t seen_generation_ = ~0ull;
  uint32_t seen_count_ = 0;
  std::vector<SkippedTopic> skipped_;
  int64_t next_retry_ns_ = 0;  // monotonic; when wait_until() tries skipped_ again
  size_t next_ = 0;  // round robin: the topic polled first next time
  SubscriberImpl* source_ = nullptr;
};

}  // namespace shmbus::detail
