#include <sched.h>

#include "routing/pattern_subscriber_impl.h"
#include "topic/receive_loop.h"
#include "shmbus/error.h"
#include "topic/process_identity.h"
#include "topic/wakeup.h"

namespace shmbus::detail {
namespace {
constexpr int64_t kMaxSleepNs = 5'000'000;  // new topics are picked up within this, even asleep
// How often a waiting subscriber opens its skipped (damaged) topics again: rarely, each try
// opens files and builds an error message.
constexpr int64_t kRetrySkippedNs = 1'000'000'000;
}

PatternSubscriberImpl::PatternSubscriberImpl(std::shared_ptr<BusState> bus, std::string pattern,
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
  // Seen before the entries are read: an append in between bumps it again, and we come back.
  seen_generation_ = r.generation.load(std::memory_order_acquire);
  const size_t skipped_before = skipped_.size();
  std::vector<std::string> names;
  try {
    names = bus_->registered_topics(seen_count_);
  } catch (const std::exception&) {
    return;  // out of memory: the next registry change tries again
  }
  for (const std::string& name : names) {
    // Counted before attaching: a topic that cannot be opened is not met again on every poll
    // (that was a busy loop that ignored timeouts); it waits in skipped_ for a retry.
    ++seen_count_;
    if (pattern_matches(pattern_, name)) attach(name, start);
  }
  // The registry changed: perhaps a damaged topic was removed and made again.
  if (skipped_before != 0) retry_skipped(skipped_before);
}

bool PatternSubscriberImpl::attach(const std::string& name, const StartAt& start) noexcept {
  try {
    SubscribeOptions o = options_;
    o.start = start;
    subscribers_.push_back(std::make_unique<SubscriberImpl>(bus_->topic(name, false, false), o, bus_));
    return true;
  } catch (const Error& e) {
    skip(name, e.what(), e.kind());
  } catch (const std::exception& e) {
    skip(name, e.what(), ErrorKind::kGeneral);
  }
  return false;
}

void PatternSubscriberImpl::skip(const std::string& name, const char* error, ErrorKind kind) noexcept {
  try {
    for (SkippedTopic& s : skipped_) {
      if (s.topic == name) {
        s.error = error;
        s.kind = kind;
        return;
      }
    }
    skipped_.push_back({name, error, kind});
  } catch (const std::exception&) {
    // Out of memory: the topic stays unattached, unlisted.
  }
}

bool PatternSubscriberImpl::retry_skipped(size_t count) noexcept {
  bool attached = false;
  // attach() of a listed name updates its entry in place and never appends.
  for (size_t i = 0; i < count && i < skipped_.size();) {
    // A skipped topic delivered nothing yet: it starts at its first record.
    if (attach(skipped_[i].topic, StartAt::earliest())) {
      skipped_.erase(skipped_.begin() + static_cast<std::ptrdiff_t>(i));
      --count;
      attached = true;
    } else {
      ++i;
    }
  }
  return attached;
}

Result<size_t> PatternSubscriberImpl::poll(MessageHandler handler, size_t max) noexcept {
  if (registry_changed()) attach_new_topics(StartAt::earliest());
  size_t delivered = 0;
  Errc error = Errc::kOk;
  const size_t n = subscribers_.size();
  for (size_t i = 0; i < n && delivered < max; ++i) {
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
  if (delivered == 0 && error != Errc::kOk) return error;
  return delivered;
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
      options_.wait == WaitStrategy::kYield ? static_cast<void>(sched_yield()) : topic::cpu_relax();
      continue;
    }
    const int64_t now = topic::monotonic_ns();
    bool changed = false;
    for (auto& s : subscribers_) {
      changed |= s->check_stuck(now);
      s->heartbeat(now);
    }
    if (changed) return {};
    if (!skipped_.empty() && now >= next_retry_ns_) {
      next_retry_ns_ = now + kRetrySkippedNs;
      if (retry_skipped(skipped_.size())) return {};
    }
    if (now >= deadline) return Errc::kTimeout;
    if (options_.wait == WaitStrategy::kBlock) {
      // One futex for many topics: publishers ring the bus doorbell while anybody sleeps on it.
      topic::sleep_once(bus_->meta().doorbell, [this] { return any_ready(); }, std::min(deadline - now, kMaxSleepNs));
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
const std::vector<SkippedTopic>& PatternSubscriber::skipped_topics() const noexcept {
  static const std::vector<SkippedTopic> kNone;
  return impl_ ? impl_->skipped_topics() : kNone;
}

}  // namespace shmbus
