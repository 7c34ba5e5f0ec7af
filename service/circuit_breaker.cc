// The kill switch's transitions, one CAS or store on the state word each.
//   closed --(a failure trips the window)--> open(until now + cool_down)
//   open --(admit after the cool-down; one CAS winner)--> half-open (the trial runs)
//   half-open --(trial succeeded)--> closed, window emptied
//   half-open --(trial failed)--> open(until now + cool_down)
//   half-open --(trial not judged: rejected, released)--> open(until now): the next may try
#include "circuit_breaker.h"

#include <algorithm>
#include <string>

namespace shmbus::service::detail {

CircuitBreaker::CircuitBreaker(const CircuitBreakerOptions& o, const std::string& endpoint)
    : window_(o.window), minimum_(o.minimum), ratio_(o.failure_ratio), cool_down_(o.cool_down),
      word_(pack(TimePoint{}, BreakerState::kClosed)) {
  if (window_ == 0) return;
  const std::string at = "endpoint \"" + endpoint + "\": circuit breaker ";
  if (window_ > 100000) throw Error(at + "window over 100000 deliveries: judge fewer", ErrorKind::kInvalidArgument);
  if (minimum_ == 0 || minimum_ > window_) {
    throw Error(at + "minimum must be 1.." + std::to_string(window_) + " (the window), not " + std::to_string(minimum_),
                ErrorKind::kInvalidArgument);
  }
  if (!(ratio_ > 0 && ratio_ <= 1)) {
    throw Error(at + "failure_ratio must be in (0, 1], e.g. 0.5", ErrorKind::kInvalidArgument);
  }
  if (cool_down_.count() <= 0) throw Error(at + "cool_down must be positive", ErrorKind::kInvalidArgument);
  slots_ = std::make_unique<std::atomic<uint8_t>[]>(window_);
  for (uint32_t i = 0; i < window_; ++i) slots_[i].store(0, std::memory_order_relaxed);
}

uint64_t CircuitBreaker::pack(TimePoint at, BreakerState s) noexcept {
  const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
  // Steady time since boot (or a TestBus's, which starts there) is far below 2^62 ns.
  return (static_cast<uint64_t>(ns < 0 ? 0 : ns) << 2) | static_cast<uint64_t>(s);
}

TimePoint CircuitBreaker::time_of(uint64_t word) noexcept {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::nanoseconds(word >> 2)));
}

BreakerState CircuitBreaker::state() const noexcept {
  return state_of(word_.load(std::memory_order_relaxed));  // relaxed: a statistic
}

TimePoint CircuitBreaker::ready_at(TimePoint now) const noexcept {
  if (!enabled()) return now;
  // SYNC: breaker-word (read); pairs with the release stores and CASes below.
  const uint64_t w = word_.load(std::memory_order_acquire);
  switch (state_of(w)) {
    case BreakerState::kClosed: return now;
    case BreakerState::kOpen: return std::max(now, time_of(w));
    case BreakerState::kHalfOpen: return TimePoint::max();
  }
  return now;
}

CircuitBreaker::Pass CircuitBreaker::admit(TimePoint now) noexcept {
  if (!enabled()) return Pass::kYes;
  // SYNC: breaker-word (read).
  uint64_t w = word_.load(std::memory_order_acquire);
  for (;;) {
    if (state_of(w) == BreakerState::kClosed) return Pass::kYes;
    if (state_of(w) == BreakerState::kHalfOpen || now < time_of(w)) return Pass::kNo;
    // The cool-down is over: exactly one thread wins the trial. acq_rel: it takes over the
    // state another thread's release published. On failure `w` is reloaded (acquire).
    if (word_.compare_exchange_weak(w, pack(time_of(w), BreakerState::kHalfOpen), std::memory_order_acq_rel,
                                    std::memory_order_acquire)) {
      return Pass::kTrial;
    }
  }
}

bool CircuitBreaker::record(Pass pass, Verdict verdict, TimePoint now) noexcept {
  if (!enabled() || pass == Pass::kNo) return false;
  if (pass == Pass::kTrial) {
    // Only the trial's thread writes the word while it is half-open (admit CASes only from
    // open), so a plain release store is enough. SYNC: breaker-word (write).
    if (verdict == Verdict::kSuccess) {
      reset();
      word_.store(pack(TimePoint{}, BreakerState::kClosed), std::memory_order_release);
      closed_.fetch_add(1, std::memory_order_relaxed);
    } else if (verdict == Verdict::kFailure) {
      word_.store(pack(now + cool_down_, BreakerState::kOpen), std::memory_order_release);
      opened_.fetch_add(1, std::memory_order_relaxed);
    } else {
      word_.store(pack(now, BreakerState::kOpen), std::memory_order_release);  // another may try now
    }
    return true;
  }
  if (verdict == Verdict::kNotJudged) return false;
  // Judged only while closed: a delivery admitted before the breaker opened says nothing new.
  // relaxed: a stale "closed" only adds one outcome to a window emptied when it closes again.
  uint64_t w = word_.load(std::memory_order_relaxed);
  if (state_of(w) != BreakerState::kClosed) return false;
  put(verdict == Verdict::kFailure);
  if (verdict != Verdict::kFailure || !tripped()) return false;
  // SYNC: breaker-word (write). Of the threads that see it trip, one CAS wins.
  if (!word_.compare_exchange_strong(w, pack(now + cool_down_, BreakerState::kOpen), std::memory_order_release,
                                     std::memory_order_relaxed)) {
    return false;
  }
  opened_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void CircuitBreaker::put(bool failed) noexcept {
  const uint8_t outcome = failed ? 2 : 1;
  const uint64_t i = next_.fetch_add(1, std::memory_order_relaxed) % window_;
  const uint8_t old = slots_[i].exchange(outcome, std::memory_order_relaxed);
  if (old == 0) judged_.fetch_add(1, std::memory_order_relaxed);
  const int delta = (outcome == 2 ? 1 : 0) - (old == 2 ? 1 : 0);
  if (delta != 0) failures_.fetch_add(delta, std::memory_order_relaxed);
}

bool CircuitBreaker::tripped() const noexcept {
  const int64_t judged = judged_.load(std::memory_order_relaxed);
  const int64_t failures = failures_.load(std::memory_order_relaxed);
  return judged >= static_cast<int64_t>(minimum_) &&
         static_cast<double>(failures) >= ratio_ * static_cast<double>(judged);
}

void CircuitBreaker::reset() noexcept {
  for (uint32_t i = 0; i < window_; ++i) {
    const uint8_t old = slots_[i].exchange(0, std::memory_order_relaxed);
    if (old != 0) judged_.fetch_sub(1, std::memory_order_relaxed);
    if (old == 2) failures_.fetch_sub(1, std::memory_order_relaxed);
  }
}

const char* to_string_impl(BreakerState s) noexcept {
  switch (s) {
    case BreakerState::kClosed: return "closed";
    case BreakerState::kOpen: return "open";
    case BreakerState::kHalfOpen: return "half-open";
  }
  return "?";
}

}  // namespace shmbus::service::detail

namespace shmbus::service {
const char* to_string(BreakerState state) noexcept { return detail::to_string_impl(state); }
}  // namespace shmbus::service
