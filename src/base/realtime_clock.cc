#include "base/realtime_clock.h"

namespace shmbus::base {
namespace {
constexpr int64_t kMinBaselineNs = 2'000'000;  // the first rate is measured over at least this
constexpr int64_t kRefreshNs = 50'000'000;     // a new anchor at least this often
// An anchor's clock_gettime takes ~20 ns (~100 ticks); a pair whose TSC reads are further apart
// than this (~7 us at 3 GHz) was preempted between them, and its realtime belongs to a later
// TSC than the one it would be paired with.
constexpr uint64_t kMaxAnchorTicks = 20'000;
}  // namespace

int64_t RealtimeClock::reanchor() noexcept {
#if defined(__x86_64__)
  const uint64_t before = __rdtsc();
  const int64_t ns = realtime_ns();
  const uint64_t after = __rdtsc();
  // A loaded host preempted us between the reads: that pair would skew the rate (by the
  // preemption over the baseline, 22 ms over 50 ms seen in a test) for the next 50 ms. The anchor
  // we have stays; the next call tries again.
  if (after - before > kMaxAnchorTicks) return ns;
  const uint64_t tsc = before + (after - before) / 2;
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
