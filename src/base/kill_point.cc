#include "base/kill_point.h"

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>

namespace shmbus::base {
namespace {
char g_name[64];
// Atomic: a point may be reached by several threads at once (the outbox relay and the handler
// threads of one process); relaxed, as it only counts: exactly one thread sees it reach 0.
std::atomic<uint64_t> g_countdown{0};

// SHMBUS_KILL_POINT=name:countdown in the environment arms a point before main().
[[maybe_unused]] const bool g_from_env = [] {
  const char* spec = std::getenv("SHMBUS_KILL_POINT");
  if (spec == nullptr) return false;
  const char* colon = std::strchr(spec, ':');
  std::string name(spec, colon ? static_cast<size_t>(colon - spec) : std::strlen(spec));
  arm_kill_point(name.c_str(), colon ? std::strtoull(colon + 1, nullptr, 10) : 1);
  return true;
}();
}  // namespace

bool g_kill_point_armed = false;

void arm_kill_point(const char* name, uint64_t countdown) noexcept {
  std::strncpy(g_name, name, sizeof g_name - 1);
  g_countdown.store(countdown == 0 ? 1 : countdown, std::memory_order_relaxed);
  g_kill_point_armed = true;
}

void kill_point_reached(const char* name) noexcept {
  if (std::strcmp(name, g_name) != 0) return;
  if (g_countdown.fetch_sub(1, std::memory_order_relaxed) == 1) ::kill(::getpid(), SIGKILL);
}

}  // namespace shmbus::base
