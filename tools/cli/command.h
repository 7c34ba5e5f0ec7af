// What every `shmbus` command shares: the main command's options (read wherever they are typed,
// before or after the subcommand), and the action the chosen subcommand leaves for main().
// Each command lives in its own file and registers itself with add_X_command().
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "shmbus/bus.h"
#include "shmbus/bus_options.h"

namespace CLI {
class App;
}

namespace shmbus::cli {

struct Context {
  std::string bus_name = "default";  // --bus NAME|PATH (env SHMBUS_BUS)
  std::optional<std::string> group;  // --group GROUP: a new bus is shared with it (0770)
  // Set by the callback of the subcommand given; returns the exit code. main() runs it after
  // the parse, so what it throws is a runtime error ("shmbus: ...", exit code 1), not a usage one.
  std::function<int()> run;

  Bus open_bus() const {
    BusOptions options;
    options.group = group;
    return Bus::open(bus_name, options);
  }
};

void add_topic_command(CLI::App& app, Context& ctx);    // topic create | rm
void add_pub_command(CLI::App& app, Context& ctx);      // pub
void add_sub_command(CLI::App& app, Context& ctx);      // sub
void add_ls_command(CLI::App& app, Context& ctx);       // ls
void add_stat_command(CLI::App& app, Context& ctx);     // stat
void add_journal_command(CLI::App& app, Context& ctx);  // journal verify | recover | dump
void add_cursor_command(CLI::App& app, Context& ctx);   // cursor ls | set | reset
void add_bench_command(CLI::App& app, Context& ctx);    // bench
void add_queue_command(CLI::App& app, Context& ctx);    // queue create | ls | stat | cancel | purge | rm
void add_consume_command(CLI::App& app, Context& ctx);  // consume
void add_dlq_command(CLI::App& app, Context& ctx);      // dlq ls | show | replay | purge
void add_bridge_command(CLI::App& app, Context& ctx);   // bridge [--check] | bridge status (built with rabbitmq-c)

// The `--json` flag every command that prints data takes: JSON instead of text, one object per
// line (per message, topic, cursor), or one object for a single report.
void add_json_flag(CLI::App& command, bool& json);

}  // namespace shmbus::cli
