// Two processes on two cores: CPU choice and pinning, a forked peer, memory both can see.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <functional>
#include <new>
#include <string>

namespace shmbus::bench {

// The two CPUs the benchmark uses: the first two this process may run on.
struct CpuPair {
  int ours = 0;
  int peer = 0;
  bool shared = false;  // only one CPU available: both sides on it, spinning loops must yield
  static CpuPair detect();
};

// Pins the calling thread to `cpu`; restores the original affinity on destruction.
class Pinned {
 public:
  explicit Pinned(int cpu);
  ~Pinned();
  Pinned(const Pinned&) = delete;
  Pinned& operator=(const Pinned&) = delete;

 private:
  alignas(8) unsigned char saved_[128];  // a cpu_set_t
};

// Anonymous MAP_SHARED memory: a forked child shares it with us.
void* map_shared_bytes(size_t bytes);
void unmap_shared_bytes(void* p, size_t bytes) noexcept;

// A T in shared memory, constructed before the fork.
template <class T>
class SharedBlock {
 public:
  SharedBlock() : object_(new (map_shared_bytes(sizeof(T))) T()) {}
  ~SharedBlock() {
    object_->~T();
    unmap_shared_bytes(object_, sizeof(T));
  }
  SharedBlock(const SharedBlock&) = delete;
  SharedBlock& operator=(const SharedBlock&) = delete;
  T* operator->() const noexcept { return object_; }
  T& operator*() const noexcept { return *object_; }

 private:
  T* object_;
};

// A forked peer pinned to a CPU. Its body returns an exit code; an exception becomes code 98.
// join() waits at most `timeout_s`, then kills it: a benchmark never hangs on a lost peer.
class PeerProcess {
 public:
  PeerProcess(int cpu, const std::function<int()>& body);
  ~PeerProcess();
  PeerProcess(const PeerProcess&) = delete;
  PeerProcess& operator=(const PeerProcess&) = delete;
  // Throws if the peer failed or had to be killed.
  void join(double timeout_s = 30.0);

 private:
  pid_t pid_ = -1;
};

// Spins (or yields, on a shared CPU) until `done()`; false if `timeout_s` passed first.
template <class Done>
bool spin_until(Done&& done, bool yield, double timeout_s);

// Polite CPU hint inside a busy loop.
inline void cpu_relax() noexcept {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#endif
}

}  // namespace shmbus::bench

#include "process_pair_inl.h"
