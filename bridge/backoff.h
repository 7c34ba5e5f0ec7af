// bridge: reconnect delays, exponential with full jitter (delay = random(0, min(max, initial *
// 2^attempt)): AWS Architecture Blog, "Exponential Backoff And Jitter"), so that many bridges
// that lost the same broker do not all come back in the same instant.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace shmbus::bridge {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
      : initial_(initial), max_(max), random_(std::random_device{}()) {}

  // The delay before the next attempt; each call doubles the ceiling up to max.
  std::chrono::milliseconds next() {
    const int64_t ceiling = std::min<int64_t>(max_.count(), initial_.count() << std::min(attempt_, 30u));
    ++attempt_;
    return std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(0, ceiling)(random_));
  }
  // Configuration errors (login or declaration refused): no point in hurrying.
  std::chrono::milliseconds longest() {
    ++attempt_;
    return max_;
  }
  void reset() noexcept { attempt_ = 0; }
  uint32_t attempts() const noexcept { return attempt_; }

 private:
  std::chrono::milliseconds initial_, max_;
  uint32_t attempt_ = 0;
  std::mt19937_64 random_;
};

}  // namespace shmbus::bridge
