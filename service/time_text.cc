// The cached-second time text (time_text.h).
#include "time_text.h"

#include <cstdint>

#include "shmbus/envelope.h"

namespace shmbus::service::detail {

namespace {

// The text up to a second, e.g. "2026-12-01T16:29:06".
struct CachedSecond {
  int64_t second = INT64_MIN;
  std::string prefix;
};

}  // namespace

// Times in a second met lately only write their milliseconds. Two seconds are kept: a request
// writes its sent-time (now) and its expires-at (now + timeout) each time. The text is
// format_time's by construction: its prefix, our ".mmmZ".
std::string format_time_cached(std::chrono::system_clock::time_point now) {
  std::string out;
  format_time_cached(now, out);
  return out;
}

void format_time_cached(std::chrono::system_clock::time_point now, std::string& out) {
  thread_local CachedSecond cache[2];
  thread_local unsigned older = 0;  // the slot a miss replaces
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const int64_t second = (ms >= 0 ? ms : ms - 999) / 1000;
  const auto in_second = static_cast<unsigned>(ms - second * 1000);
  unsigned slot = cache[0].second == second ? 0 : cache[1].second == second ? 1 : 2;
  if (slot == 2) {
    slot = older;
    const std::string full = envelope::format_time(std::chrono::system_clock::time_point(std::chrono::seconds(second)));
    cache[slot].prefix.assign(full, 0, full.size() - 5);  // without ".000Z"
    cache[slot].second = second;
  }
  older = slot ^ 1;
  const std::string& prefix = cache[slot].prefix;
  const char tail[5] = {'.', static_cast<char>('0' + in_second / 100), static_cast<char>('0' + in_second / 10 % 10),
                        static_cast<char>('0' + in_second % 10), 'Z'};
  out.assign(prefix);
  out.append(tail, 5);
}

}  // namespace shmbus::service::detail
