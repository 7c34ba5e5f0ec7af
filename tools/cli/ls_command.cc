// `shmbus ls [--json]`: every topic with its kind, capacity, policy, tail, publishers,
// subscribers, and its publish rate over 200 ms.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include "cli_output.h"
#include "command.h"

namespace shmbus::cli {
namespace {

constexpr std::chrono::milliseconds kRateWindow{200};

void print_row(const TopicStats& s, double rate, bool json) {
  if (json) {
    std::cout << JsonObject()
                     .add("topic", s.name)
                     .add("kind", to_string(s.kind))
                     .add("capacity", s.config.capacity)
                     .add("policy", to_string(s.config.policy))
                     .add("tail", s.tail_position)
                     .add("publishers", s.publishers)
                     .add("subscribers", s.subscribers)
                     .add("messages_per_s", rate)
                     .str()
              << '\n';
    return;
  }
  std::printf("%-40s %-7s %12llu %-9s %16llu %5u %5u %12.0f\n", s.name.c_str(), to_string(s.kind),
              static_cast<unsigned long long>(s.config.capacity), to_string(s.config.policy),
              static_cast<unsigned long long>(s.tail_position), s.publishers, s.subscribers, rate);
}

int run_ls(const Context& ctx, bool json) {
  Bus bus = ctx.open_bus();
  std::vector<TopicStats> before;
  for (const std::string& name : bus.topics()) before.push_back(bus.stats(name));
  std::this_thread::sleep_for(kRateWindow);
  if (!json) {
    std::printf("%-40s %-7s %12s %-9s %16s %5s %5s %12s\n", "TOPIC", "KIND", "CAPACITY", "POLICY", "TAIL", "PUBS", "SUBS",
                "MSG/S");
  }
  const double seconds = std::chrono::duration<double>(kRateWindow).count();
  for (const TopicStats& b : before) {
    const TopicStats s = bus.stats(b.name);
    print_row(s, static_cast<double>(s.published - b.published) / seconds, json);
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace

void add_ls_command(CLI::App& app, Context& ctx) {
  CLI::App* ls = app.add_subcommand("ls", "list topics");
  auto json = std::make_shared<bool>(false);
  add_json_flag(*ls, *json);
  ls->callback([&ctx, json] { ctx.run = [&ctx, json] { return run_ls(ctx, *json); }; });
}

}  // namespace shmbus::cli
