#include "base/process_identity.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "base/file.h"

namespace shmbus::base {
namespace {

struct ProcStat {
  char state = '?';    // field 3: R, S, D, Z (zombie), X (dead), ...
  uint64_t start = 0;  // field 22: start time in clock ticks since boot; 0 if unreadable
};

// Reads /proc/PID/stat. The command name (field 2) may hold spaces and parentheses, so fields
// are counted from the last ')'.
ProcStat proc_stat(uint32_t pid) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%u/stat", pid);
  const UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));  // a char path: no allocation here
  if (!fd.valid()) return {};
  char buf[1024];
  const ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
  if (n <= 0) return {};
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr || p[1] == '\0') return {};
  ProcStat st;
  st.state = p[2];
  for (int field = 2; field < 22 && p != nullptr; ++field) p = std::strchr(p + 1, ' ');
  if (p != nullptr) st.start = std::strtoull(p + 1, nullptr, 10);
  return st;
}

uint64_t make_token(uint32_t pid, uint64_t start) noexcept {
  return static_cast<uint64_t>(pid) | (start & 0xFFFFFFFFull) << 32;
}

}  // namespace

uint64_t self_token() noexcept {
  // Cached per process; a forked child has another pid and so recomputes.
  static thread_local uint32_t cached_pid = 0;
  static thread_local uint64_t cached_token = 0;
  uint32_t pid = static_cast<uint32_t>(::getpid());
  if (pid != cached_pid) {
    cached_token = make_token(pid, proc_stat(pid).start);
    cached_pid = pid;
  }
  return cached_token;
}

bool owner_alive(uint64_t token) noexcept {
  uint32_t pid = token_pid(token);
  if (pid == 0) return false;
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return false;
  ProcStat st = proc_stat(pid);
  if (st.start == 0) return true;  // cannot tell (no /proc): assume alive, the timeout decides
  // A zombie (killed, not yet reaped) still has a stat file, but it will never commit again.
  if (st.state == 'Z' || st.state == 'X') return false;
  return make_token(pid, st.start) == token;
}

std::string unique_suffix() { return std::to_string(::getpid()) + "." + std::to_string(::gettid()); }

int64_t monotonic_ns() noexcept {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int64_t coarse_monotonic_ns() noexcept {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int64_t coarse_realtime_ns() noexcept {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int64_t realtime_ns() noexcept {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace shmbus::base
