#include "base/store16.h"

namespace shmbus::base {

#if defined(__x86_64__)
const bool kPlainStore16 = [] {
  __builtin_cpu_init();  // static initialisers may run before the compiler's own CPU detection
  return __builtin_cpu_supports("avx") != 0;
}();
#else
const bool kPlainStore16 = false;
#endif

}  // namespace shmbus::base
