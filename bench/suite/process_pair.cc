#include "process_pair.h"

#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "shmbus/error.h"

namespace shmbus::bench {

CpuPair CpuPair::detect() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return {0, 0, true};
  int found[2] = {-1, -1};
  int n = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE && n < 2; ++cpu) {
    if (CPU_ISSET(cpu, &set)) found[n++] = cpu;
  }
  if (n < 2) return {found[0] < 0 ? 0 : found[0], found[0] < 0 ? 0 : found[0], true};
  return {found[0], found[1], false};
}

Pinned::Pinned(int cpu) {
  static_assert(sizeof(cpu_set_t) <= sizeof saved_);
  auto* saved = reinterpret_cast<cpu_set_t*>(saved_);
  CPU_ZERO(saved);
  sched_getaffinity(0, sizeof(cpu_set_t), saved);
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  // Best effort: in a container that forbids it we still run, just unpinned.
  sched_setaffinity(0, sizeof one, &one);
}

Pinned::~Pinned() { sched_setaffinity(0, sizeof(cpu_set_t), reinterpret_cast<cpu_set_t*>(saved_)); }

void* map_shared_bytes(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw Error(std::string("benchmark: mmap of shared memory failed: ") + std::strerror(errno));
  return p;
}

void unmap_shared_bytes(void* p, size_t bytes) noexcept { munmap(p, bytes); }

PeerProcess::PeerProcess(int cpu, const std::function<int()>& body) {
  pid_ = fork();
  if (pid_ < 0) throw Error(std::string("benchmark: fork failed: ") + std::strerror(errno));
  if (pid_ == 0) {
    int code = 98;
    try {
      Pinned pin(cpu);
      code = body();
    } catch (...) {
    }
    _exit(code);
  }
}

PeerProcess::~PeerProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void PeerProcess::join(double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) break;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
      throw Error("benchmark: the peer process did not finish within " + std::to_string(timeout_s) + " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  pid_ = -1;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw Error("benchmark: the peer process failed (status " + std::to_string(status) + ")");
  }
}

}  // namespace shmbus::bench
