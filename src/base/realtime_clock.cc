#include "base/realtime_clock.h"

namespace shmbus::base {
namespace {
constexpr int64_t kMinBaselineNs = 2'000'000;  // the first rate is measured over at least this
constexpr int64_t kRefreshNs = 50'000'000;     // a new anchor at least this often
}  // namespace

int64_t RealtimeClock::reanchor() noexcept {
#if defined(__x86_64__)
  const uint64_t tsc = __rdtsc();
  const int64_t ns = realtime_ns();
  if (anchor_ns_ == 0 || tsc <= anchor_tsc_ || ns <= anchor_ns_) {
    // First call, a TSC that went backwards or a realtime step back: start measuring again.
    anchor_tsc_ = tsc;
    anchor_ns_ = ns;
    ns_per_tick_q32_ = 0;
    return ns;
  }
  if (ns - anchor_ns_ < kMinBaselineNs) return ns;  // still measuring the first rate
  const double ns_per_tick = static_cast<double>(ns - anchor_ns_) / static_cast<double>(tsc - anchor_tsc_);
  // A TSC slower than 16 MHz or faster than 64 GHz is no TSC we can use: clock_gettime it is.
  if (ns_per_tick > 64.0 || ns_per_tick < 1.0 / 64) return ns;
  ns_per_tick_q32_ = static_cast<uint64_t>(ns_per_tick * 4294967296.0);
  refresh_ticks_ = static_cast<uint64_t>(static_cast<double>(kRefreshNs) / ns_per_tick);
  anchor_tsc_ = tsc;
  anchor_ns_ = ns;
  return ns;
#else
  return realtime_ns();
#endif
}

}  // namespace shmbus::base
