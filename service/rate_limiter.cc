// GCRA: a turn is a CAS of the theoretical arrival time.
#include "rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace shmbus::service::detail {

RateLimiter::RateLimiter(const RateLimitOptions& o, const std::string& endpoint) {
  if (o.per_second == 0) return;
  const std::string at = "endpoint \"" + endpoint + "\": rate limit ";
  if (!(o.per_second > 0) || !std::isfinite(o.per_second) || o.per_second > 1e9) {
    throw Error(at + "per_second must be in (0, 1e9], or 0 for none", ErrorKind::kInvalidArgument);
  }
  if (o.burst == 0) throw Error(at + "burst must be 1 or more", ErrorKind::kInvalidArgument);
  interval_ns_ = std::max<int64_t>(1, static_cast<int64_t>(std::llround(1e9 / o.per_second)));
  tolerance_ns_ = interval_ns_ * static_cast<int64_t>(o.burst - 1);
}

int64_t RateLimiter::ns(TimePoint t) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
TimePoint RateLimiter::at(int64_t n) noexcept {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::nanoseconds(n)));
}

TimePoint RateLimiter::ready_at(TimePoint now) const noexcept {
  if (!enabled()) return now;
  // relaxed: a hint for when to look again; take() decides with its CAS.
  const int64_t allowed = tat_ns_.load(std::memory_order_relaxed) - tolerance_ns_;
  return std::max(now, at(allowed));
}

std::optional<TimePoint> RateLimiter::take(TimePoint now) noexcept {
  if (!enabled()) return std::nullopt;
  const int64_t t = ns(now);
  // relaxed: the TAT guards no other data; the CAS alone decides whose turn it is.
  int64_t tat = tat_ns_.load(std::memory_order_relaxed);
  for (;;) {
    const int64_t allowed = tat - tolerance_ns_;
    if (t < allowed) return at(allowed);
    if (tat_ns_.compare_exchange_weak(tat, std::max(tat, t) + interval_ns_, std::memory_order_relaxed)) {
      return std::nullopt;
    }
  }
}

}  // namespace shmbus::service::detail
