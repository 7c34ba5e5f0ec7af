// shmbus::Subscription: a thin handle over a one-topic SubscriberImpl or a PatternSubscriberImpl.
// Exactly one of the two is set (neither once moved from or default-made: every call is then
// kClosed); each call is one branch on which.
#include "shmbus/subscription.h"

#include "routing/pattern_subscriber_impl.h"
#include "topic/receive_loop.h"
#include "topic/subscriber_impl.h"

namespace shmbus {

Subscription::Subscription() = default;
Subscription::Subscription(std::unique_ptr<detail::SubscriberImpl> topic) noexcept : topic_(std::move(topic)) {}
Subscription::Subscription(std::unique_ptr<detail::PatternSubscriberImpl> pattern) noexcept
    : pattern_(std::move(pattern)) {}
Subscription::Subscription(Subscription&&) noexcept = default;
Subscription& Subscription::operator=(Subscription&&) noexcept = default;
Subscription::~Subscription() = default;

Result<size_t> Subscription::poll(MessageHandler handler, size_t max) noexcept {
  if (topic_) return topic_->poll(handler, max);
  if (pattern_) return pattern_->poll(handler, max);
  return Errc::kClosed;
}

Result<void> Subscription::wait(std::chrono::nanoseconds timeout) noexcept {
  if (topic_) return topic_->wait(timeout);
  if (pattern_) return pattern_->wait(timeout);
  return Errc::kClosed;
}

Result<size_t> Subscription::receive(MessageHandler handler, size_t max, std::chrono::nanoseconds timeout) noexcept {
  if (topic_) return detail::receive_loop(*topic_, handler, max, timeout);
  if (pattern_) return detail::receive_loop(*pattern_, handler, max, timeout);
  return Errc::kClosed;
}

Result<size_t> Subscription::controlled_poll(ControlledHandler handler, size_t max) noexcept {
  if (topic_) return detail::controlled_poll(*topic_, handler, max);
  if (pattern_) return detail::controlled_poll(*pattern_, handler, max);
  return Errc::kClosed;
}

Result<Sample> Subscription::try_receive() noexcept {
  if (topic_) return topic_->try_receive();
  if (pattern_) return pattern_->try_receive();
  return Errc::kClosed;
}

Result<Sample> Subscription::receive(std::chrono::nanoseconds timeout) noexcept {
  if (topic_) return detail::receive_sample_loop(*topic_, timeout);
  if (pattern_) return detail::receive_sample_loop(*pattern_, timeout);
  return Errc::kClosed;
}

Result<void> Subscription::commit() noexcept {
  if (topic_) return topic_->commit();
  if (pattern_) return Errc::kInvalidArgument;  // a pattern has no named cursor
  return Errc::kClosed;
}

Result<void> Subscription::commit(uint64_t position) noexcept {
  if (topic_) return topic_->commit(position);
  if (pattern_) return Errc::kInvalidArgument;  // a pattern has no named cursor
  return Errc::kClosed;
}

std::string_view Subscription::name() const noexcept {
  if (topic_) return topic_->topic();
  if (pattern_) return pattern_->pattern();
  return "";
}

uint64_t Subscription::position() const noexcept { return topic_ ? topic_->position() : 0; }

size_t Subscription::topic_count() const noexcept {
  if (topic_) return 1;
  return pattern_ ? pattern_->topic_count() : 0;
}

const std::vector<SkippedTopic>& Subscription::skipped_topics() const noexcept {
  static const std::vector<SkippedTopic> none;
  return pattern_ ? pattern_->skipped_topics() : none;
}

uint64_t Subscription::received() const noexcept {
  if (topic_) return topic_->received();
  return pattern_ ? pattern_->received() : 0;
}

uint64_t Subscription::lost() const noexcept {
  if (topic_) return topic_->lost();
  return pattern_ ? pattern_->lost() : 0;
}

}  // namespace shmbus
