// The endpoint's kill switch (CircuitBreakerOptions): closed -> open when most recent judged
// deliveries failed; open -> half-open when the cool-down is over and one handler thread takes
// the trial; half-open -> closed (the trial succeeded) or open again (it failed).
// Lock-free: the handler threads share it, and a closed breaker costs one acquire load.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "clock.h"
#include "shmbus/service/endpoint.h"

namespace shmbus::service::detail {

class CircuitBreaker {
 public:
  // Throws Error (kInvalidArgument) if the options are inconsistent.
  CircuitBreaker(const CircuitBreakerOptions& options, const std::string& endpoint);

  enum class Pass : uint8_t { kNo, kYes, kTrial };  // what admit() let through
  enum class Verdict : uint8_t { kSuccess, kFailure, kNotJudged };

  bool enabled() const noexcept { return window_ > 0; }
  // When a delivery may next be admitted (<= now: now); TimePoint::max() while a trial runs.
  TimePoint ready_at(TimePoint now) const noexcept;
  // kYes (closed), kTrial (the cool-down is over and this caller won the trial), kNo.
  Pass admit(TimePoint now) noexcept;
  // The outcome of a delivery admitted with `pass`. Returns true when the state changed (the
  // caller wakes the threads waiting for it).
  bool record(Pass pass, Verdict verdict, TimePoint now) noexcept;

  BreakerState state() const noexcept;
  uint64_t opened() const noexcept { return opened_.load(std::memory_order_relaxed); }
  uint64_t closed() const noexcept { return closed_.load(std::memory_order_relaxed); }

 private:
  // The state word: (steady ns of the end of the cool-down << 2) | state. One word, so that a
  // thread that sees "open" also sees when it ends, and one CAS picks the trial's thread.
  static uint64_t pack(TimePoint at, BreakerState s) noexcept;
  static BreakerState state_of(uint64_t word) noexcept { return static_cast<BreakerState>(word & 3u); }
  static TimePoint time_of(uint64_t word) noexcept;

  void put(bool failed) noexcept;  // into the window of recent outcomes
  bool tripped() const noexcept;
  void reset() noexcept;

  const uint32_t window_;
  const uint32_t minimum_;
  const double ratio_;
  const std::chrono::nanoseconds cool_down_;
  std::atomic<uint64_t> word_;
  // The window: a ring of the last outcomes (0 none, 1 success, 2 failure), and their counts.
  // relaxed throughout: the ratio is a heuristic; an outcome racing the check is judged by the
  // next one. Each slot's exchange keeps the counts equal to the slots' contents.
  std::unique_ptr<std::atomic<uint8_t>[]> slots_;
  std::atomic<uint64_t> next_{0};
  std::atomic<int64_t> judged_{0}, failures_{0};
  std::atomic<uint64_t> opened_{0}, closed_{0};  // relaxed: statistics
};

}  // namespace shmbus::service::detail
