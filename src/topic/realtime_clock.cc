#include "topic/realtime_clock.h"

namespace shmbus::topic {
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
    ns_per_tick_ = 0;
    return ns;
  }
  if (ns - anchor_ns_ < kMinBaselineNs) return ns;  // still measuring the first rate
  ns_per_tick_ = static_cast<double>(ns - anchor_ns_) / static_cast<double>(tsc - anchor_tsc_);
  refresh_ticks_ = static_cast<uint64_t>(static_cast<double>(kRefreshNs) / ns_per_tick_);
  anchor_tsc_ = tsc;
  anchor_ns_ = ns;
  return ns;
#else
  return realtime_ns();
#endif
}

}  // namespace shmbus::topic
