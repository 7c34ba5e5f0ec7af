// Per-thread random numbers, reseeded after fork.
#include "random_bits.h"

#include <unistd.h>

#include <random>

namespace shmbus::service::detail {

uint64_t random_u64() noexcept {
  thread_local pid_t seeded_for = 0;
  thread_local std::mt19937_64 engine;
  const pid_t pid = ::getpid();
  if (seeded_for != pid) {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(), static_cast<unsigned>(pid)};
    engine.seed(seed);
    seeded_for = pid;
  }
  return engine();
}

}  // namespace shmbus::service::detail
