#include "base/asymmetric_fence.h"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

namespace shmbus::base {
namespace {
long membarrier(int command) noexcept { return ::syscall(__NR_membarrier, command, 0, 0); }
}  // namespace

bool register_for_heavy_fence() noexcept {
  // Registration is per process and idempotent; asked once (a static's thread-safe init).
  static const bool registered = [] {
    const long supported = membarrier(MEMBARRIER_CMD_QUERY);
    if (supported < 0 || (supported & MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0) return false;
    return membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0;
  }();
  return registered;
}

void heavy_fence() noexcept {
  if (membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) != 0) {
    // No membarrier: no publisher registered, each fences for itself; ours keeps our own order.
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
}

}  // namespace shmbus::base
