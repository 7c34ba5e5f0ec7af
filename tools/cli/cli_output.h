// What several `shmbus` commands share: printing messages (text or JSON lines), JSON objects,
// reading a start point (earliest, latest, a position, a time), and a progress bar for long scans.
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shmbus/bus.h"
#include "shmbus/message.h"

namespace shmbus::cli {

std::string json_escape(std::string_view s);
void print_message(const Message& m, bool json);

// One JSON object, its fields in the order added:
//   std::cout << JsonObject().add("topic", name).add("tail", 42).str() << '\n';
class JsonObject {
 public:
  JsonObject& add(std::string_view key, std::string_view value);
  JsonObject& add(std::string_view key, const char* value) { return add(key, std::string_view(value)); }
  JsonObject& add(std::string_view key, const std::string& value) { return add(key, std::string_view(value)); }
  JsonObject& add(std::string_view key, bool value) { return add_raw(key, value ? "true" : "false"); }
  JsonObject& add(std::string_view key, double value);
  template <std::integral T>
    requires(!std::same_as<T, bool>)
  JsonObject& add(std::string_view key, T value) {
    return add_raw(key, std::to_string(value));
  }
  JsonObject& add_raw(std::string_view key, std::string_view json);  // `json`: an object, an array ...
  std::string str() const { return body_ + "}"; }

 private:
  std::string body_ = "{";
};

// `["a","b"]` from strings.
std::string json_array(const std::vector<std::string>& items);

// A message as print_message(m, true) writes it (topic, position, seq, timestamp_ns, message_id,
// headers, payload), for a caller that adds fields of its own before str().
JsonObject message_json(const Message& m);
// `{"k":"v",...}` of a record's headers.
std::string headers_json(const HeadersView& headers);

// A duration: a number with a unit (250ms, 30s, 2m, 1h) or a bare number of seconds (1.5).
// Throws Error (kInvalidArgument) naming `option` if it is neither, or negative.
std::chrono::nanoseconds parse_duration(const std::string& text, const std::string& option);
// 0.25 s as "250ms", 30 s as "30s", 90 s as "90s": how --lease and friends print.
std::string duration_text(std::chrono::nanoseconds d);

// The stats of a journal topic; throws Error if `topic` is a memory topic.
TopicStats journal_stats(Bus& bus, const std::string& topic);

// A named cursor as a JSON object, its fields from shmbus/topic_stats_fields.h.
std::string cursor_json(const CursorStats& c);

// 2026-11-25T17:00:00.123Z, or "-" for 0.
std::string utc(int64_t ns);

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
