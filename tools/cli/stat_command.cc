// `shmbus stat TOPIC [--json]`: a topic's counters; for a journal also its segments, flushes,
// retention and named cursors. Every field comes from shmbus/topic_stats_fields.h.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <memory>
#include <span>
#include <string>
#include <type_traits>

#include "cli_output.h"
#include "command.h"
#include "shmbus/topic_stats_fields.h"

namespace shmbus::cli {
namespace {

struct StatOptions {
  std::string topic;
  bool json = false;
};

// Both outputs come from the field table (shmbus/topic_stats_fields.h), fields in its order,
// only those that apply to the topic's kind.

// A value as text: numbers plain, times also in UTC, durations and sizes with their unit
// (`with_unit`; not in a cursor's key=value list).
std::string text_of(const StatField&, std::string_view v, bool = true) { return v.empty() ? "-" : std::string(v); }
std::string text_of(const StatField&, bool v, bool = true) { return v ? "yes" : "no"; }
template <class T>
  requires(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>)
std::string text_of(const StatField& f, T v, bool with_unit = true) {
  char number[32];
  if constexpr (std::is_floating_point_v<T>) {
    std::snprintf(number, sizeof number, "%.15g", v);
  } else if constexpr (std::is_unsigned_v<T>) {
    std::snprintf(number, sizeof number, "%llu", static_cast<unsigned long long>(v));
  } else {
    std::snprintf(number, sizeof number, "%lld", static_cast<long long>(v));
  }
  std::string out = number;
  if (with_unit && f.unit == StatUnit::kTimestamp && v != 0) out += " (" + utc(static_cast<int64_t>(v)) + ")";
  if (with_unit && !unit_suffix(f.unit).empty()) out += " " + std::string(unit_suffix(f.unit));
  return out;
}

// One line per field, "name  value"; one line per named cursor, "cursor  NAME key=value ...".
void print_text(const TopicStats& s) {
  for_each_field(s, [&](const StatField& f, const auto& value) {
    if (!applies(f, s.kind)) return;
    using V = std::decay_t<decltype(value)>;
    if constexpr (std::is_same_v<V, std::span<const CursorStats>>) {
      for (const CursorStats& c : value) {
        std::string line;
        for_each_field(c, [&](const StatField& cf, const auto& v) {
          line += line.empty() ? text_of(cf, v) : " " + std::string(cf.name) + "=" + text_of(cf, v, false);
        });
        std::printf("%-17s %s\n", "cursor", line.c_str());
      }
    } else {
      std::printf("%-17s %s\n", std::string(f.name).c_str(), text_of(f, value).c_str());
    }
  });
  std::fflush(stdout);
}

void print_json(const TopicStats& s) {
  JsonObject out;
  for_each_field(s, [&](const StatField& f, const auto& value) {
    if (!applies(f, s.kind)) return;
    if constexpr (std::is_same_v<std::decay_t<decltype(value)>, std::span<const CursorStats>>) {
      std::string cursors = "[";
      for (const CursorStats& c : value) cursors += (cursors.size() > 1 ? "," : "") + cursor_json(c);
      out.add_raw(f.name, cursors + "]");
    } else {
      out.add(f.name, value);
    }
  });
  std::cout << out.str() << '\n';
}

}  // namespace

void add_stat_command(CLI::App& app, Context& ctx) {
  CLI::App* stat = app.add_subcommand("stat", "counters of a topic");
  auto o = std::make_shared<StatOptions>();
  stat->add_option("TOPIC", o->topic)->required();
  add_json_flag(*stat, o->json);
  stat->callback([&ctx, o] {
    ctx.run = [&ctx, o] {
      Bus bus = ctx.open_bus();
      const TopicStats s = bus.stats(o->topic);
      o->json ? print_json(s) : print_text(s);
      return 0;
    };
  });
}

}  // namespace shmbus::cli
