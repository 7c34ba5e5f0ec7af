// The endpoint's rate limit (RateLimitOptions) as the generic cell rate algorithm: one atomic,
// the theoretical arrival time (TAT) of the next delivery. A delivery may go at `now` when
// now >= TAT - tolerance (tolerance = (burst - 1) intervals); going moves TAT to
// max(TAT, now) + interval. Lock-free; the handler threads share it.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "clock.h"
#include "shmbus/service/endpoint.h"

namespace shmbus::service::detail {

class RateLimiter {
 public:
  // Throws Error (kInvalidArgument) if the options are inconsistent.
  RateLimiter(const RateLimitOptions& options, const std::string& endpoint);

  bool enabled() const noexcept { return interval_ns_ > 0; }
  // When the next delivery may go (<= now: now). Takes nothing.
  TimePoint ready_at(TimePoint now) const noexcept;
  // Takes the turn of one delivery at `now` (nullopt), or says when to try again.
  std::optional<TimePoint> take(TimePoint now) noexcept;

 private:
  static int64_t ns(TimePoint t) noexcept;
  static TimePoint at(int64_t ns) noexcept;

  int64_t interval_ns_ = 0;
  int64_t tolerance_ns_ = 0;
  std::atomic<int64_t> tat_ns_{0};  // steady ns; 0: long ago
};

}  // namespace shmbus::service::detail
