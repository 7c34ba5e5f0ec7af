// Named crash points for the tests of the layers above the public API (DESIGN.md section 8):
// the service and outbox layers mark their protocol steps with kill_point("outbox.after_commit")
// as src/ does with SHMBUS_KILL_POINT. Armed by SHMBUS_KILL_POINT=name:countdown in the
// environment (or arm_kill_point), a point SIGKILLs its process the countdown-th time it is
// reached. In a build without SHMBUS_KILL_POINTS both are empty.
#pragma once

#include <cstdint>

namespace shmbus {

void kill_point(const char* name) noexcept;
void arm_kill_point(const char* name, uint64_t countdown) noexcept;

}  // namespace shmbus
