// `shmbus sub TOPIC|PATTERN [--from ...] [--cursor NAME] [--count N] [--timeout S] [--json]`:
// prints the messages of one topic, or of the topics matching a pattern, until --count, --timeout
// or a stop signal.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <set>

#include "cli_output.h"
#include "command.h"
#include "stop_signal.h"

namespace shmbus::cli {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Each receive() waits at most this long and delivers at most this many messages, so a stop
// signal is seen within ~100 ms however busy or idle the topics are.
constexpr auto kWaitSlice = 100ms;
constexpr size_t kBatch = 256;

struct SubOptions {
  std::string pattern;
  std::string from = "latest";
  std::string cursor;
  uint64_t count = 0;    // 0: no limit
  double timeout_s = 0;  // 0: no limit
  bool json = false;
};

// One topic or a pattern; a --cursor with a pattern is refused by Bus::subscribe() itself.
Subscription open_subscription(Bus& bus, const SubOptions& o) {
  SubscribeOptions options(parse_start(o.from));
  options.cursor = o.cursor;
  return bus.subscribe(o.pattern, options);
}

int run_sub(const Context& ctx, const SubOptions& o) {
  catch_stop_signals();
  Bus bus = ctx.open_bus();
  Subscription source = open_subscription(bus, o);
  const auto idle_limit = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.timeout_s));
  uint64_t seen = 0;
  std::set<std::string> skipped;  // topics reported as unreadable, once each
  Clock::time_point last_message = Clock::now();
  while (!stop_requested() && (o.count == 0 || seen < o.count)) {
    Clock::duration wait = kWaitSlice;
    if (o.timeout_s > 0) {
      const Clock::duration left = idle_limit - (Clock::now() - last_message);
      if (left <= Clock::duration::zero()) break;  // --timeout: that long without a message
      wait = std::min(wait, left);
    }
    const size_t max = o.count == 0 ? kBatch : static_cast<size_t>(std::min<uint64_t>(kBatch, o.count - seen));
    Result<size_t> n = source.receive([&](const Message& m) { print_message(m, o.json); }, max, wait);
    if (!n) throw Error(std::string("subscribe failed: ") + to_string(n.error()));
    for (const SkippedTopic& t : source.skipped_topics()) {
      if (skipped.insert(t.topic).second) std::cerr << "shmbus: skipping topic " << t.topic << ": " << t.error << '\n';
    }
    if (*n > 0) {
      seen += *n;
      std::cout.flush();
      last_message = Clock::now();
    }
  }
  std::cout.flush();
  return stop_exit_code();
}

}  // namespace

void add_sub_command(CLI::App& app, Context& ctx) {
  CLI::App* sub = app.add_subcommand("sub", "print messages of a topic, or of the topics matching a pattern");
  auto o = std::make_shared<SubOptions>();
  sub->add_option("TOPIC_OR_PATTERN", o->pattern, "a topic name, or a pattern (* one word, # any)")->required();
  add_json_flag(*sub, o->json);
  sub->add_option("--from", o->from, "earliest | latest | POSITION | TIME (2026-11-25T17:00:00Z, @UNIX_SECONDS, -10m)");
  sub->add_option("--cursor", o->cursor, "journal topic (a name, not a pattern): resume from (and commit to) this named cursor; "
                  "--from then applies only when the cursor is new");
  sub->add_option("--count", o->count, "stop after N messages");
  sub->add_option("--timeout", o->timeout_s, "stop after this many seconds without a message")->check(CLI::NonNegativeNumber);
  sub->footer("Ends with exit code 0 after --count or --timeout, 130 on SIGINT (Ctrl-C), 143 on SIGTERM.");
  sub->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_sub(ctx, *o); }; });
}

}  // namespace shmbus::cli
