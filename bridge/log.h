// bridge: one line per event on stderr, "2026-12-01T12:00:00Z bridge <link>: <text>", each
// distinct error once (LinkStatus::set_error decides), so a broker that stays away for an hour
// writes one line, not thousands.
#pragma once

#include <string>
#include <string_view>

namespace shmbus::bridge {

class Log {
 public:
  explicit Log(std::string link) : link_(std::move(link)) {}
  void info(std::string_view text) const;

 private:
  std::string link_;
};

int64_t realtime_ns() noexcept;

}  // namespace shmbus::bridge
