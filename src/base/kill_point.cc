#include "base/kill_point.h"

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>

namespace shmbus::base {
namespace {
char g_name[64];
uint64_t g_countdown = 0;

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
  g_countdown = countdown == 0 ? 1 : countdown;
  g_kill_point_armed = true;
}

void kill_point_reached(const char* name) noexcept {
  if (std::strcmp(name, g_name) != 0) return;
  if (--g_countdown == 0) ::kill(::getpid(), SIGKILL);
}

}  // namespace shmbus::base
