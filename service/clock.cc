// The real clocks.
#include "clock.h"

namespace shmbus::service::detail {
namespace {

class RealClock final : public Clock {
 public:
  TimePoint now() const noexcept override { return std::chrono::steady_clock::now(); }
  std::chrono::system_clock::time_point wall() const noexcept override { return std::chrono::system_clock::now(); }
};

}  // namespace

const Clock& real_clock() noexcept {
  static const RealClock clock;
  return clock;
}

}  // namespace shmbus::service::detail
