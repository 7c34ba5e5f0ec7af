#include <sched.h>

#include "routing/pattern_subscriber_impl.h"
#include "topic/receive_loop.h"
#include "shmbus/error.h"
#include "base/process_identity.h"
#include "base/futex.h"

namespace shmbus::detail {
namespace {
constexpr int64_t kMaxSleepNs = 5'000'000;  // new topics are picked up within this, even asleep
}

PatternSubscriberImpl::PatternSubscriberImpl(std::shared_ptr<bus::BusState> bus, std::string pattern,
                                             const SubscribeOptions& options)
    : bus_(std::move(bus)), pattern_(std::move(pattern)), options_(options) {
  attach_new_topics(options_.start);
}

bool PatternSubscriberImpl::registry_changed() const noexcept {
  // SYNC: registry (read) — acquire pairs with the release bump in registry.cc:append_entry().
  return bus_->registry().generation.load(std::memory_order_acquire) != seen_generation_;
}

// Topics that exist when we subscribe start where the caller asked; topics created later start
// at their first record, so nothing published after their creation is missed.
void PatternSubscriberImpl::attach_new_topics(const StartAt& start) noexcept {
  const bus::Registry& r = bus_->registry();
  seen_generation_ = r.generation.load(std::memory_order_acquire);
  try {
    std::vector<std::string> names = bus_->registered_topics(seen_count_);
    for (const std::string& name : names) {
      if (pattern_matches(pattern_, name)) {
        SubscribeOptions o = options_;
        o.start = start;
        subscribers_.push_back(std::make_unique<SubscriberImpl>(bus_->topic(name, false, false), o, bus_));
      }
      ++seen_count_;
    }
  } catch (const std::exception&) {
    // A damaged or half-made topic: skip it this time; it is retried on the next change.
    seen_generation_ = ~0ull;
  }
}

Result<size_t> PatternSubscriberImpl::poll(MessageHandler handler, size_t max) noexcept {
  if (registry_changed()) attach_new_topics(StartAt::earliest());
  size_t delivered = 0;
  Result<void> error;
  const size_t n = subscribers_.size();
  for (size_t i = 0; i < n && delivered < max && !stop_; ++i) {
    SubscriberImpl& s = *subscribers_[(next_ + i) % n];
    source_ = &s;
    Result<size_t> got = s.poll(handler, max - delivered);
    if (got) {
      delivered += *got;
    } else {
      error = got.error();
    }
  }
  if (n != 0) next_ = (next_ + 1) % n;
  stop_ = false;
  if (delivered == 0 && !error) return error.error();
  return delivered;
}

Result<Sample> PatternSubscriberImpl::try_receive() noexcept {
  if (registry_changed()) attach_new_topics(StartAt::earliest());
  const size_t n = subscribers_.size();
  Errc error = Errc::kTimeout;  // nothing anywhere
  for (size_t i = 0; i < n; ++i) {
    SubscriberImpl& s = *subscribers_[(next_ + i) % n];
    Result<Sample> got = s.try_receive();
    if (got) {
      next_ = (next_ + i + 1) % n;  // the next topic goes first next time: no topic starves
      return got;
    }
    if (got.error() != Errc::kTimeout) error = got.error();
  }
  return error;
}

bool PatternSubscriberImpl::any_ready() noexcept {
  if (registry_changed()) return true;
  for (auto& s : subscribers_) {
    if (s->ready()) return true;
  }
  return false;
}

Result<void> PatternSubscriberImpl::wait_until(int64_t deadline) noexcept {
  for (auto& s : subscribers_) s->flush_position();
  // Spinning starts with cheap checks: the clock and the liveness work come every 64th round.
  for (uint32_t spins = 1;; ++spins) {
    if (any_ready()) return {};
    if (options_.wait != WaitStrategy::kBlock && (spins & 63) != 0) {
      options_.wait == WaitStrategy::kYield ? static_cast<void>(sched_yield()) : base::cpu_relax();
      continue;
    }
    const int64_t now = base::monotonic_ns();
    bool changed = false;
    for (auto& s : subscribers_) {
      changed |= s->check_stuck(now);
      s->heartbeat(now);
    }
    if (changed) return {};
    if (now >= deadline) return Errc::kTimeout;
    if (options_.wait == WaitStrategy::kBlock) {
      // One futex for many topics: publishers ring the bus doorbell while anybody sleeps on it.
      base::sleep_once(bus_->meta().doorbell, [this] { return any_ready(); }, std::min(deadline - now, kMaxSleepNs));
    }
  }
}

uint64_t PatternSubscriberImpl::received() const noexcept {
  uint64_t total = 0;
  for (const auto& s : subscribers_) total += s->received();
  return total;
}

uint64_t PatternSubscriberImpl::lost() const noexcept {
  uint64_t total = 0;
  for (const auto& s : subscribers_) total += s->lost();
  return total;
}

}  // namespace shmbus::detail

namespace shmbus {

PatternSubscriber::PatternSubscriber() = default;
PatternSubscriber::PatternSubscriber(std::unique_ptr<detail::PatternSubscriberImpl> impl) noexcept
    : impl_(std::move(impl)) {}
PatternSubscriber::PatternSubscriber(PatternSubscriber&&) noexcept = default;
PatternSubscriber& PatternSubscriber::operator=(PatternSubscriber&&) noexcept = default;
PatternSubscriber::~PatternSubscriber() = default;

Result<size_t> PatternSubscriber::poll(MessageHandler handler, size_t max) noexcept {
  if (!impl_) return Errc::kClosed;
  return impl_->poll(handler, max);
}

Result<size_t> PatternSubscriber::controlled_poll(ControlledHandler handler, size_t max) noexcept {
  if (!impl_) return Errc::kClosed;
  return detail::controlled_poll(*impl_, handler, max);
}

Result<Sample> PatternSubscriber::try_receive() noexcept {
  if (!impl_) return Errc::kClosed;
  return impl_->try_receive();
}

Result<Sample> PatternSubscriber::receive(std::chrono::nanoseconds timeout) noexcept {
  if (!impl_) return Errc::kClosed;
  return detail::receive_sample_loop(*impl_, timeout);
}

Result<void> PatternSubscriber::wait(std::chrono::nanoseconds timeout) noexcept {
  if (!impl_) return Errc::kClosed;
  return impl_->wait(timeout);
}

Result<size_t> PatternSubscriber::receive(MessageHandler handler, size_t max, std::chrono::nanoseconds timeout) noexcept {
  if (!impl_) return Errc::kClosed;
  return detail::receive_loop(*impl_, handler, max, timeout);
}

std::string_view PatternSubscriber::pattern() const noexcept { return impl_ ? std::string_view(impl_->pattern()) : ""; }
size_t PatternSubscriber::topic_count() const noexcept { return impl_ ? impl_->topic_count() : 0; }
uint64_t PatternSubscriber::received() const noexcept { return impl_ ? impl_->received() : 0; }
uint64_t PatternSubscriber::lost() const noexcept { return impl_ ? impl_->lost() : 0; }

}  // namespace shmbus
