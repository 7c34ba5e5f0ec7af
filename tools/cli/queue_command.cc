// `shmbus queue create | ls | stat | cancel | purge | rm`: durable queues (docs/queues.md). `stat` prints
// every field of shmbus/queue_stats_fields.h, as text ("field value" lines) or one JSON object.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "cli_output.h"
#include "command.h"
#include "shmbus/headers.h"
#include "shmbus/queue_stats_fields.h"

namespace shmbus::cli {
namespace {

struct QueueOptions {
  std::string name;
  std::vector<std::string> bindings;
  uint32_t max_deliveries = QueueConfig{}.max_deliveries;
  std::string lease = "30s";
  std::string retry;  // empty: the default policy
  std::string match;     // header filter
  std::string ordering;  // "key" or "key:HEADER"
  bool single_active = false;
  std::string dedup_window;
  std::string expired = "dead-letter";
  std::string message_id;  // cancel
  bool json = false;
};

// --ordering key (the `key` header) or key:HEADER.
std::string ordering_header(const std::string& spec) {
  if (spec.empty()) return "";
  if (spec == "key") return std::string(header_keys::kKey);
  if (spec.starts_with("key:") && spec.size() > 4) return spec.substr(4);
  throw Error("--ordering takes key or key:HEADER, got \"" + spec + "\"", ErrorKind::kInvalidArgument);
}

int run_create(const Context& ctx, const QueueOptions& o) {
  QueueConfig config;
  config.bindings = o.bindings;
  config.max_deliveries = o.max_deliveries;
  config.lease = std::chrono::duration_cast<std::chrono::milliseconds>(parse_duration(o.lease, "--lease"));
  if (!o.retry.empty()) config.retry = RetryPolicy::parse(o.retry);
  config.filter = o.match;
  config.ordering_key = ordering_header(o.ordering);
  config.single_active = o.single_active;
  if (!o.dedup_window.empty()) {
    config.dedup_window = std::chrono::duration_cast<std::chrono::milliseconds>(parse_duration(o.dedup_window, "--dedup-window"));
  }
  config.expired = parse_expired_action(o.expired);
  Bus bus = ctx.open_bus();
  const bool existed = [&] {
    for (const std::string& q : bus.queues()) {
      if (q == o.name) return true;
    }
    return false;
  }();
  Queue queue = bus.create_queue(o.name, config);
  const QueueStats s = queue.stats();
  if (o.json) {
    std::cout << JsonObject().add("queue", o.name).add("created", !existed).add_raw("topics", json_array(s.topics)).str()
              << '\n';
  } else {
    const size_t n = s.topics.size();
    std::cout << (existed ? "exists " : "created ") << o.name << " (bound to " << n << (n == 1 ? " topic" : " topics")
              << " now)\n";
  }
  return 0;
}

// "a,b" for a text line.
std::string joined(std::span<const std::string> items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ",") + s;
  return out.empty() ? "-" : out;
}

void print_stats(const QueueStats& s, bool json) {
  JsonObject out;
  for_each_field(s, [&](const StatField& f, const auto& value) {
    using V = std::decay_t<decltype(value)>;
    if constexpr (std::is_same_v<V, std::span<const std::string>>) {
      if (json) out.add_raw(f.name, json_array({value.begin(), value.end()}));
      else std::printf("%-15s %s\n", std::string(f.name).c_str(), joined(value).c_str());
    } else if constexpr (std::is_same_v<V, std::string_view>) {
      if (json) out.add(f.name, value);
      else std::printf("%-15s %s\n", std::string(f.name).c_str(), value.empty() ? "-" : std::string(value).c_str());
    } else {
      if (json) {
        out.add(f.name, value);
      } else {
        char text[40];
        if constexpr (std::is_floating_point_v<V>) std::snprintf(text, sizeof text, "%.15g s", value);
        else std::snprintf(text, sizeof text, "%llu", static_cast<unsigned long long>(value));
        std::printf("%-15s %s\n", std::string(f.name).c_str(), text);
      }
    }
  });
  if (json) std::cout << out.str() << '\n';
  std::cout.flush();
  std::fflush(stdout);
}

int run_ls(const Context& ctx, bool json) {
  Bus bus = ctx.open_bus();
  if (!json) std::printf("%-32s %9s %9s %9s %9s %9s %9s  %s\n", "QUEUE", "READY", "IN_FLIGHT", "SCHEDULED", "CONSUMERS",
                         "ACKED", "DLQ", "BINDINGS");
  for (const std::string& name : bus.queues()) {
    const QueueStats s = bus.queue(name).stats();
    if (json) {
      std::cout << JsonObject()
                       .add("queue", s.name)
                       .add_raw("bindings", json_array(s.config.bindings))
                       .add("ready", s.ready)
                       .add("in_flight", s.in_flight)
                       .add("scheduled", s.scheduled)
                       .add("consumers", s.consumers)
                       .add("acked", s.acked)
                       .add("dead_lettered", s.dead_lettered)
                       .add("dlq_depth", s.dlq_depth)
                       .str()
                << '\n';
    } else {
      auto n = [](uint64_t v) { return static_cast<unsigned long long>(v); };
      std::printf("%-32s %9llu %9llu %9llu %9llu %9llu %9llu  %s\n", s.name.c_str(), n(s.ready), n(s.in_flight),
                  n(s.scheduled), n(s.consumers), n(s.acked), n(s.dlq_depth), joined(s.config.bindings).c_str());
    }
  }
  std::cout.flush();
  std::fflush(stdout);
  return 0;
}

int run_cancel(const Context& ctx, const QueueOptions& o) {
  Bus bus = ctx.open_bus();
  const uint64_t cancelled = bus.queue(o.name).cancel(o.message_id);
  if (o.json) std::cout << JsonObject().add("queue", o.name).add("message_id", o.message_id).add("cancelled", cancelled).str() << '\n';
  else std::cout << "cancelled " << cancelled << " delayed records of " << o.name << '\n';
  return cancelled > 0 ? 0 : 1;
}

int run_purge(const Context& ctx, const QueueOptions& o) {
  Bus bus = ctx.open_bus();
  const uint64_t purged = bus.queue(o.name).purge();
  if (o.json) std::cout << JsonObject().add("queue", o.name).add("purged", purged).str() << '\n';
  else std::cout << "purged " << purged << " records from " << o.name << '\n';
  return 0;
}

int run_rm(const Context& ctx, const QueueOptions& o) {
  Bus bus = ctx.open_bus();
  if (!bus.remove_queue(o.name)) {
    throw Error("no queue " + o.name + " on bus " + bus.path() + "; nothing removed (shmbus queue ls lists them)",
                ErrorKind::kNotFound);
  }
  if (o.json) std::cout << JsonObject().add("queue", o.name).add("removed", true).str() << '\n';
  else std::cout << "removed " << o.name << '\n';
  return 0;
}

}  // namespace

void add_queue_command(CLI::App& app, Context& ctx) {
  CLI::App* queue = app.add_subcommand("queue", "manage durable queues (competing consumers, retries, dead letters)");
  queue->require_subcommand(1);
  auto o = std::make_shared<QueueOptions>();

  CLI::App* create = queue->add_subcommand("create", "create a queue bound to journal topics (or check an existing one)");
  create->add_option("QUEUE", o->name)->required();
  create->add_option("--bind", o->bindings, "a topic name or pattern (* one word, # any); repeatable")->required();
  create->add_option("--max-deliveries", o->max_deliveries, "failed attempts before dead-lettering (1..255)")
      ->capture_default_str();
  create->add_option("--lease", o->lease, "a stalled consumer loses its delivery after this (250ms, 30s, 5m)")
      ->capture_default_str();
  create->add_option("--retry", o->retry, "backoff, e.g. exponential:min=100ms,max=30s,factor=2,jitter=0.2");
  create->add_option("--match", o->match, "header filter, RabbitMQ's headers-exchange rules: 'x-match=any,type=OrderPlaced'");
  create->add_option("--ordering", o->ordering, "per-key order: key (the `key` header) or key:HEADER");
  create->add_flag("--single-active", o->single_active, "one consumer at a time; the next takes over when it goes");
  create->add_option("--dedup-window", o->dedup_window, "drop records whose message-id was seen this recently (10m)");
  create->add_option("--expired", o->expired, "records past their expires-at: dead-letter | drop")->capture_default_str();
  add_json_flag(*create, o->json);
  create->footer("Topics that exist now join at their tail (what comes next); topics created later join at their "
                 "first record. Journal topics only.");
  create->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_create(ctx, *o); }; });

  CLI::App* ls = queue->add_subcommand("ls", "list queues with their counts");
  add_json_flag(*ls, o->json);
  ls->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_ls(ctx, o->json); }; });

  CLI::App* stat = queue->add_subcommand("stat", "every counter and setting of a queue");
  stat->add_option("QUEUE", o->name)->required();
  add_json_flag(*stat, o->json);
  stat->callback([&ctx, o] {
    ctx.run = [&ctx, o] {
      Bus bus = ctx.open_bus();
      print_stats(bus.queue(o->name).stats(), o->json);
      return 0;
    };
  });

  CLI::App* cancel = queue->add_subcommand("cancel", "cancel delayed records (not-before still ahead) by message-id");
  cancel->add_option("QUEUE", o->name)->required();
  cancel->add_option("MESSAGE_ID", o->message_id)->required();
  add_json_flag(*cancel, o->json);
  cancel->footer("Exit 1 if no delayed record had that message-id.");
  cancel->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_cancel(ctx, *o); }; });

  CLI::App* purge = queue->add_subcommand("purge", "pass over every record not yet delivered (they stay in the topics)");
  purge->add_option("QUEUE", o->name)->required();
  add_json_flag(*purge, o->json);
  purge->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_purge(ctx, *o); }; });

  CLI::App* rm = queue->add_subcommand("rm", "remove a queue (its dead-letter topic stays: shmbus topic rm QUEUE.dlq)");
  rm->add_option("QUEUE", o->name)->required();
  add_json_flag(*rm, o->json);
  rm->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_rm(ctx, *o); }; });
}

}  // namespace shmbus::cli
