// A cheap nanosecond clock for latency samples: the TSC where it is invariant, else steady_clock.
// Every figure of one run (floor and ours) is timed with the same clock, so ratios stay fair.
#pragma once

#include <chrono>
#include <cstdint>
#include <thread>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace shmbus::bench {

class BenchClock {
 public:
  // Calibrates the TSC against steady_clock over ~20 ms.
  BenchClock() {
#if defined(__x86_64__)
    auto t0 = std::chrono::steady_clock::now();
    uint64_t c0 = __rdtsc();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    uint64_t c1 = __rdtsc();
    auto t1 = std::chrono::steady_clock::now();
    double ns = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
    ns_per_tick_ = ns / static_cast<double>(c1 - c0);
#endif
  }

  uint64_t ticks() const noexcept {
#if defined(__x86_64__)
    return __rdtsc();
#else
    return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
  }
  double to_ns(uint64_t ticks) const noexcept { return static_cast<double>(ticks) * ns_per_tick_; }

  // Wall-clock seconds for throughput windows.
  static double seconds_now() noexcept {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }

 private:
  double ns_per_tick_ = 1.0;
};

}  // namespace shmbus::bench
