// bridge: Log.
#include "bridge/log.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace shmbus::bridge {

int64_t realtime_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void Log::info(std::string_view text) const {
  const time_t s = static_cast<time_t>(realtime_ns() / 1000000000);
  tm t{};
  gmtime_r(&s, &t);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &t);
  // One fprintf per line: lines of several links' threads do not interleave.
  std::fprintf(stderr, "%s bridge %s: %.*s\n", when, link_.c_str(), static_cast<int>(text.size()), text.data());
}

}  // namespace shmbus::bridge
