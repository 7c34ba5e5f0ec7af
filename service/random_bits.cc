// Per-thread random numbers, reseeded after fork.
#include "random_bits.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <random>

namespace shmbus::service::detail {
namespace {

// Bumped in a forked child (pthread_atfork), so that each thread reseeds once there. Asking
// getpid() on every call did the same with a system call per random number: four of them per
// new message envelope (its id and its trace context), most of its cost.
// relaxed: read and written by the child's threads only after the fork; the value is all that
// is shared.
std::atomic<uint64_t> fork_generation{1};

void forked_child() noexcept { fork_generation.fetch_add(1, std::memory_order_relaxed); }

// Registered when the library is loaded, before any thread of ours can fork.
const bool fork_handler_registered = [] { return ::pthread_atfork(nullptr, nullptr, forked_child) == 0; }();

}  // namespace

uint64_t random_u64() noexcept {
  thread_local uint64_t seeded_for = 0;
  thread_local std::mt19937_64 engine;
  // Without the handler (registration failed) fall back to the process id, per call.
  const uint64_t generation = fork_handler_registered ? fork_generation.load(std::memory_order_relaxed)
                                                      : static_cast<uint64_t>(::getpid()) << 1;
  if (seeded_for != generation) {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(), static_cast<unsigned>(::getpid())};
    engine.seed(seed);
    seeded_for = generation;
  }
  return engine();
}

}  // namespace shmbus::service::detail
