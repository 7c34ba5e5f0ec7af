// The shmbus command line: topic, pub, sub, ls, stat, journal, cursor, bench, queue, consume, dlq, bridge; one file
// per command (X_command.cc), each registered by add_X_command().
#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>
#include <set>
#include <string>

#include "command.h"

namespace {

// Subcommand help lists only the subcommand's own options: say there where --bus goes.
void mention_main_options(CLI::App& command) {
  for (CLI::App* sub : command.get_subcommands([](CLI::App*) { return true; })) {
    const std::string footer = sub->get_footer();
    sub->footer((footer.empty() ? "" : footer + "\n") +
                "--bus NAME|PATH (env SHMBUS_BUS) selects the bus, before or after the command.");
    mention_main_options(*sub);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"shmbus: a lock-free shared-memory message bus"};
  app.require_subcommand(1);
  // What a subcommand does not know goes up to the main command, so its options work anywhere:
  // `shmbus --bus demo pub t hi` and `shmbus pub t hi --bus demo`. Inherited by the subcommands
  // added below, hence set first.
  app.fallthrough();
  shmbus::cli::Context ctx;
  app.add_option("--bus", ctx.bus_name, "bus name (/dev/shm/shmbus/NAME) or directory path")
      ->envname("SHMBUS_BUS")
      ->capture_default_str();
  app.add_option("--group", ctx.group, "create the bus shared with this Unix group (0770), not private (0700)");

  shmbus::cli::add_topic_command(app, ctx);
  shmbus::cli::add_pub_command(app, ctx);
  shmbus::cli::add_sub_command(app, ctx);
  shmbus::cli::add_ls_command(app, ctx);
  shmbus::cli::add_stat_command(app, ctx);
  shmbus::cli::add_journal_command(app, ctx);
  shmbus::cli::add_cursor_command(app, ctx);
  shmbus::cli::add_bench_command(app, ctx);
  shmbus::cli::add_queue_command(app, ctx);
  shmbus::cli::add_consume_command(app, ctx);
  shmbus::cli::add_dlq_command(app, ctx);
#ifdef SHMBUS_HAVE_BRIDGE
  shmbus::cli::add_bridge_command(app, ctx);
#endif

  mention_main_options(app);
  app.footer("Options of shmbus itself (--bus) may come before or after the command.");

  CLI11_PARSE(app, argc, argv);
  try {
    return ctx.run ? ctx.run() : 0;
  } catch (const std::exception& e) {
    std::cerr << "shmbus: " << e.what() << '\n';
    return 1;
  }
}
