// The public face of the named crash points (base/kill_point.h), for the layers above api/.
#include "shmbus/kill_point.h"

#include "base/kill_point.h"

namespace shmbus {

void kill_point(const char* name) noexcept {
  SHMBUS_KILL_POINT(name);
  (void)name;
}

void arm_kill_point(const char* name, uint64_t countdown) noexcept {
#ifdef SHMBUS_KILL_POINTS
  base::arm_kill_point(name, countdown);
#else
  (void)name;
  (void)countdown;
#endif
}

}  // namespace shmbus
