// `shmbus cursor ls|set|reset TOPIC ...`: the named cursors of a journal topic.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <memory>

#include "cli_output.h"
#include "command.h"

namespace shmbus::cli {
namespace {

struct CursorOptions {
  std::string topic;
  std::string name;  // set, reset
  std::string where;  // set
  bool json = false;
};

// `cursor ls TOPIC` (every cursor), and what `cursor set` prints: the cursor it moved.
int print_cursors(Bus& bus, const CursorOptions& o, bool only_named) {
  const TopicStats stats = journal_stats(bus, o.topic);
  if (!o.json) {
    std::printf("%-24s %16s %14s %12s %-24s %s\n", "CURSOR", "POSITION", "LAG BYTES", "LAG RECORDS", "COMMITTED", "IN USE");
  }
  for (const CursorStats& c : stats.cursors) {
    if (only_named && c.name != o.name) continue;
    if (o.json) {
      std::printf("%s\n", cursor_json(c).c_str());
      continue;
    }
    std::printf("%-24s %16llu %14llu %12llu %-24s %s\n", c.name.c_str(), static_cast<unsigned long long>(c.position),
                static_cast<unsigned long long>(c.lag_bytes), static_cast<unsigned long long>(c.lag_records),
                utc(c.committed_ns).c_str(), c.in_use ? "yes" : "no");
  }
  return 0;
}

int run_set(const Context& ctx, const CursorOptions& o) {
  Bus bus = ctx.open_bus();
  bus.set_cursor(o.topic, o.name, parse_start(o.where, "WHERE"));
  return print_cursors(bus, o, true);
}

int run_reset(const Context& ctx, const CursorOptions& o) {
  Bus bus = ctx.open_bus();
  if (!bus.remove_cursor(o.topic, o.name)) {
    std::cerr << "shmbus: topic " << o.topic << " has no cursor " << o.name << '\n';
    return 1;
  }
  if (o.json) {
    std::cout << JsonObject().add("cursor", o.name).add("removed", true).str() << '\n';
  } else {
    std::cout << "removed cursor " << o.name << '\n';
  }
  return 0;
}

}  // namespace

void add_cursor_command(CLI::App& app, Context& ctx) {
  CLI::App* cursor = app.add_subcommand("cursor", "named cursors of a journal topic");
  cursor->require_subcommand(1);
  auto o = std::make_shared<CursorOptions>();
  CLI::App* ls = cursor->add_subcommand("ls", "cursors, their positions and lag");
  CLI::App* set = cursor->add_subcommand("set", "move (or create) a cursor; no subscriber may hold it");
  CLI::App* reset = cursor->add_subcommand("reset", "remove a cursor: its next subscriber starts by its --from");
  for (CLI::App* command : {ls, set, reset}) {
    command->add_option("TOPIC", o->topic)->required();
    if (command != ls) command->add_option("NAME", o->name)->required();
    add_json_flag(*command, o->json);
  }
  set->add_option("WHERE", o->where, "earliest | latest | POSITION | TIME")->required();
  ls->callback([&ctx, o] {
    ctx.run = [&ctx, o] {
      Bus bus = ctx.open_bus();
      return print_cursors(bus, *o, false);
    };
  });
  set->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_set(ctx, *o); }; });
  reset->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_reset(ctx, *o); }; });
}

}  // namespace shmbus::cli
