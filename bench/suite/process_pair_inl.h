// Template bodies of process_pair.h.
#pragma once

#include <sched.h>

#include <chrono>
#include <cstdint>

namespace shmbus::bench {

template <class Done>
bool spin_until(Done&& done, bool yield, double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  for (uint32_t i = 1;; ++i) {
    if (done()) return true;
    if (yield) {
      sched_yield();
    } else {
      cpu_relax();
    }
    // The clock is read rarely, so the loop stays a tight spin.
    if ((i & 0xffff) == 0 && std::chrono::steady_clock::now() > deadline) return false;
  }
}

}  // namespace shmbus::bench
