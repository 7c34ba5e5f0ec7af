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

// xoshiro256** (Blackman and Vigna, 2018): 256 bits of state, four words in a thread_local
// array that needs no constructor, a few shifts per number (mt19937_64 took 13 ns a call here, a
// tenth of a new envelope, which asks for four).
struct Xoshiro256 {
  uint64_t s[4];
  static uint64_t rotl(uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  uint64_t next() noexcept {
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
};

// Each word from 64 bits of std::random_device (and the pid, should the device repeat itself),
// through splitmix64, the authors' advice for seeding: never an all-zero state.
void seed(Xoshiro256& g) {
  std::random_device device;
  const uint64_t pid = static_cast<uint64_t>(::getpid());
  for (uint64_t& word : g.s) {
    uint64_t z = (static_cast<uint64_t>(device()) << 32 | device()) ^ (pid << 17);
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    word = z ^ (z >> 31);
  }
}

}  // namespace

uint64_t random_u64() noexcept {
  thread_local uint64_t seeded_for = 0;
  thread_local Xoshiro256 generator{};
  // Without the handler (registration failed) fall back to the process id, per call.
  const uint64_t generation = fork_handler_registered ? fork_generation.load(std::memory_order_relaxed)
                                                      : static_cast<uint64_t>(::getpid()) << 1;
  if (seeded_for != generation) {
    seed(generator);
    seeded_for = generation;
  }
  return generator.next();
}

}  // namespace shmbus::service::detail
