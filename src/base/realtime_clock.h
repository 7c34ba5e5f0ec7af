// CLOCK_REALTIME for record timestamps at the price of one TSC read.
//
// clock_gettime() costs ~20 ns on our VMs, 40% of a whole publish; rdtsc costs ~9. The clock
// keeps an anchor (TSC, realtime) and a rate measured between two anchors, and takes a fresh
// anchor from clock_gettime every ~50 ms, so NTP slews and steps reach it within that time and
// the error stays around 0.1 µs (the first 50 ms after start: ~1 µs). Without an invariant TSC
// (or off x86) it is plain clock_gettime. State is per object: one thread at a time, like the
// Publisher that owns it; no thread_local (the library may be dlopen()ed, e.g. from Python).
#pragma once

#include <cstdint>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "base/process_identity.h"

namespace shmbus::base {

class RealtimeClock {
 public:
  int64_t now_ns() noexcept {
#if defined(__x86_64__)
    if (ns_per_tick_q32_ > 0) {
      const uint64_t elapsed = __rdtsc() - anchor_tsc_;  // wraps huge if the TSC went backwards
      // Fixed point, not double: one multiply instead of two conversions and a multiply, on the
      // path from claim to commit. No overflow: elapsed < refresh_ticks_ (50 ms of ticks), so
      // elapsed * ns_per_tick_q32_ < 5e7 ns * 2^32 < 2^58.
      if (elapsed < refresh_ticks_) return anchor_ns_ + static_cast<int64_t>((elapsed * ns_per_tick_q32_) >> 32);
    }
    return reanchor();
#else
    return realtime_ns();
#endif
  }

 private:
  int64_t reanchor() noexcept;

  uint64_t anchor_tsc_ = 0;
  int64_t anchor_ns_ = 0;
  uint64_t ns_per_tick_q32_ = 0;  // ns per tick * 2^32; 0 until two anchors far enough apart gave a rate
  uint64_t refresh_ticks_ = 0;
};

}  // namespace shmbus::base
