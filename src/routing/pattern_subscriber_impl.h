// The pattern subscriber behind a pattern shmbus::Subscription: one SubscriberImpl per matching
// topic. When the registry's generation moves it compares every entry word with the one it saw
// last (bus_files.h): an entry that changed ends the topic attached through it (removed, or
// removed and its entry reused), and a Ready entry that matches is attached.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bus/bus_state.h"
#include "shmbus/pattern.h"
#include "shmbus/subscription.h"
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
  const std::vector<SkippedTopic>& skipped_topics() const noexcept { return skipped_; }
  size_t topic_count() const noexcept { return subscribers_.size(); }
  // How many topic subscribers have been detached so far (their topics were removed): a cache
  // keyed by SubscriberImpl* must be dropped when this moves.
  uint64_t detached() const noexcept { return detached_; }
  uint64_t received() const noexcept;
  uint64_t lost() const noexcept;

 private:
  bool registry_changed() const noexcept;
  void follow_registry(const StartAt& start) noexcept;
  void look_at_entry(uint32_t index, const StartAt& start);
  void detach_entry(uint32_t index) noexcept;
  // Notes (or updates) a matching topic that could not be opened; forgets it once attached.
  void note_skipped(const std::string& name, const Error& e) noexcept;
  void forget_skipped(const std::string& name) noexcept;
  bool any_ready() noexcept;

  std::shared_ptr<bus::BusState> bus_;
  std::string pattern_;
  SubscribeOptions options_;
  std::vector<std::unique_ptr<SubscriberImpl>> subscribers_;
  std::vector<uint32_t> entries_;     // entries_[k]: the registry entry subscribers_[k] came from
  std::vector<uint64_t> seen_words_;  // per registry entry: its word when we last looked at it
  uint64_t seen_generation_ = ~0ull;
  uint64_t detached_ = 0;
  std::vector<SkippedTopic> skipped_;
  int64_t next_retry_ns_ = 0;  // coarse monotonic: when poll() opens skipped_ topics again
  // Detached topic subscribers whose samples are still out (see SubscriberImpl::samples_out()).
  std::vector<std::unique_ptr<SubscriberImpl>> retired_;
  void free_retired() noexcept;
  uint64_t retired_received_ = 0;  // counts of detached topic subscribers
  uint64_t retired_lost_ = 0;
  size_t next_ = 0;  // round robin: the topic polled first next time
  SubscriberImpl* source_ = nullptr;
  bool stop_ = false;  // see stop_batch()
};

}  // namespace shmbus::detail
