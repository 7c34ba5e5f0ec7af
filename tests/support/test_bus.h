// Test helpers: a throw-away bus directory, child processes, deadlines.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

#include "shmbus/bus.h"

namespace shmbus::test {

// A directory of its own (`root`/shmbus-`what`-PID-N), removed when the test ends; made empty
// if `make`, else only its name is reserved.
class TempDir {
 public:
  TempDir(const std::string& root, const std::string& what, bool make = false) {
    static std::atomic<int> counter{0};
    path_ = root + "/shmbus-" + what + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    std::filesystem::remove_all(path_);
    if (make) std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A bus in its own directory under /dev/shm, removed when the test ends.
class TempBus {
 public:
  const std::string& path() const { return dir_.path(); }
  Bus open(const BusOptions& options = {}) const { return Bus::open(dir_.path(), options); }

 private:
  TempDir dir_{"/dev/shm", "test"};
};

// A topic configuration for tests: ring bytes and policy, other fields at their defaults.
inline TopicConfig ring_config(uint64_t capacity, Policy policy = Policy::kBlock) {
  TopicConfig config;
  config.capacity = capacity;
  config.policy = policy;
  return config;
}

// Runs `body` in a forked child that exits with its return value (0 = success). The child
// never returns into the test framework.
inline pid_t spawn(const std::function<int()>& body) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int code = 99;
    try {
      code = body();
    } catch (...) {
      code = 98;
    }
    ::_exit(code);
  }
  return pid;
}

// Waits for `pid` at most `timeout`; kills it (and reports -1) if it does not end in time.
// Returns the exit code, or 128 + signal for a signalled child.
inline int wait_child(pid_t pid, std::chrono::milliseconds timeout = std::chrono::seconds(120)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Polls `done` until true or the timeout passes.
inline bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return done();
}

// A 64-bit checksum (FNV-1a) of bytes, to check payloads arrive intact.
inline uint64_t fnv1a(const void* data, size_t n, uint64_t h = 1469598103934665603ull) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

}  // namespace shmbus::test
