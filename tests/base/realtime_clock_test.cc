// The TSC-based timestamp clock agrees with clock_gettime(CLOCK_REALTIME).
#include <gtest/gtest.h>

#include <thread>

#include "base/process_identity.h"
#include "base/realtime_clock.h"

namespace shmbus::base {
namespace {

// Every reading must fall between a realtime read just before and one just after it, give or
// take the model's error bound. Preemption between the reads widens the window, never narrows it.
TEST(RealtimeClock, StaysBetweenNeighbouringClockReads) {
  constexpr int64_t kToleranceNs = 200'000;
  RealtimeClock clock;
  const int64_t end = base::monotonic_ns() + 300'000'000;  // spans the first rate and several re-anchors
  int64_t readings = 0;
  while (base::monotonic_ns() < end) {
    const int64_t before = realtime_ns();
    const int64_t ours = clock.now_ns();
    const int64_t after = realtime_ns();
    ASSERT_GE(ours, before - kToleranceNs) << "after " << readings << " readings";
    ASSERT_LE(ours, after + kToleranceNs) << "after " << readings << " readings";
    ++readings;
    if (readings % 100'000 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(7));  // idle gaps too
  }
  EXPECT_GT(readings, 1000);
}

}  // namespace
}  // namespace shmbus::base
