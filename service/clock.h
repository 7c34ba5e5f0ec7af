// The clocks the pipeline reads: a steady one for deadlines, cool-downs and rates, a wall one for
// the envelope's times. The real ones on a bus; a TestBus's virtual one, moved by advance().
#pragma once

#include <chrono>

namespace shmbus::service::detail {

using TimePoint = std::chrono::steady_clock::time_point;

// Thread-safety: both calls from any thread.
class Clock {
 public:
  virtual TimePoint now() const noexcept = 0;
  virtual std::chrono::system_clock::time_point wall() const noexcept = 0;

 protected:
  ~Clock() = default;
};

// steady_clock and system_clock.
const Clock& real_clock() noexcept;

}  // namespace shmbus::service::detail
