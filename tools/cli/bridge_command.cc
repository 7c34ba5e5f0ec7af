// `shmbus bridge --config bridge.toml [--check]` and `shmbus bridge status --config ...`:
// the RabbitMQ bridge (bridge/, docs/bridge.md).
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "bridge/bridge.h"
#include "bridge/config.h"
#include "bridge/status_file.h"
#include "command.h"
#include "stop_signal.h"

namespace shmbus::cli {
namespace {

struct BridgeOptions {
  std::string config;
  bool check = false;
  bool json = false;
};

int run_bridge_command(const Context& ctx, const BridgeOptions& o) {
  if (!o.check) catch_stop_signals();  // first: a SIGTERM while starting up still stops cleanly
  const bridge::BridgeConfig config = bridge::load_config(o.config);
  if (o.check) {
    std::cout << bridge::describe_plan(config);
    return 0;
  }
  bridge::run_bridge(config, ctx.bus_name, [] { return stop_requested(); });
  return stop_exit_code();
}

}  // namespace

void add_bridge_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<BridgeOptions>();
  CLI::App* bridge = app.add_subcommand("bridge", "forward between bus topics and RabbitMQ (docs/bridge.md)");
  bridge->add_option("--config", o->config, "the bridge's TOML config (README: a full example)");
  bridge->add_flag("--check", o->check, "check the config and print the plan; connect to nothing");

  auto so = std::make_shared<BridgeOptions>();
  CLI::App* status = bridge->add_subcommand("status", "per link: connected, forwarded, confirmed, returned, lag, last error");
  status->add_option("--config", so->config, "the bridge's TOML config")->required();
  add_json_flag(*status, so->json);
  status->callback([&ctx, so] {
    ctx.run = [so] {
      std::cout << bridge::read_status(bridge::load_config(so->config), so->json);
      return 0;
    };
  });
  // Runs after the subcommand's callback: `bridge status` has set ctx.run already.
  bridge->callback([&ctx, o, status] {
    if (status->parsed()) return;
    if (o->config.empty()) throw CLI::RequiredError("--config");
    ctx.run = [&ctx, o] { return run_bridge_command(ctx, *o); };
  });
}

}  // namespace shmbus::cli
