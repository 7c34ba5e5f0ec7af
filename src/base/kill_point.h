// Named crash points for tests (DESIGN.md §8): SHMBUS_KILL_POINT("claim.after_word") raises
// SIGKILL at the Nth time it is reached, when armed. Compiled to nothing unless the build
// defines SHMBUS_KILL_POINTS (CMake option of the same name; off in Release).
#pragma once

#include <cstdint>

namespace shmbus::base {

// Arms `name` to kill this process the `countdown`-th time it is reached. Also armed from the
// environment at start-up: SHMBUS_KILL_POINT=name:countdown.
void arm_kill_point(const char* name, uint64_t countdown) noexcept;
void kill_point_reached(const char* name) noexcept;
extern bool g_kill_point_armed;

}  // namespace shmbus::base

#ifdef SHMBUS_KILL_POINTS
#define SHMBUS_KILL_POINT(name)                                                   \
  do {                                                                            \
    if (::shmbus::base::g_kill_point_armed) [[unlikely]]                        \
      ::shmbus::base::kill_point_reached(name);                                 \
  } while (0)
#else
#define SHMBUS_KILL_POINT(name) \
  do {                          \
  } while (0)
#endif
