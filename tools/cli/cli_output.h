// What several `shmbus` commands share: printing messages (text or JSON lines), reading a start
// point (earliest, latest, a position, a time), and a progress bar for long scans.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "shmbus/message.h"

namespace shmbus::cli {

std::string json_escape(std::string_view s);
void print_message(const Message& m, bool json);

// earliest | latest | POSITION | a time: 2026-11-25T17:00:00[.123][Z] (UTC), @UNIX_SECONDS[.frac],
// or -N[s|m|h|d] (that long ago). Throws Error naming `option` if it is none of these.
StartAt parse_start(const std::string& text, const std::string& option = "--from");

// "[#####.....]  45%  9/20 segments" on stderr, redrawn in place, when stderr is a terminal;
// nothing otherwise (the command's own output stays plain).
class ProgressBar {
 public:
  // `beside_stdout`: also stay quiet when stdout is a terminal (its lines would break the bar).
  explicit ProgressBar(std::string what, bool beside_stdout = false);
  ~ProgressBar();
  void update(uint64_t done, uint64_t total);

 private:
  std::string what_;
  bool enabled_;
  bool drawn_ = false;
  int64_t last_draw_ns_ = 0;
};

}  // namespace shmbus::cli
