// `shmbus topic create TOPIC [--kind journal ...]`: a memory ring, or a journal on disk.
#include <CLI/CLI.hpp>

#include <chrono>
#include <iostream>
#include <memory>

#include "cli_output.h"
#include "command.h"
#include "topic_rm_command.h"

namespace shmbus::cli {
namespace {

struct CreateOptions {
  std::string topic;
  uint64_t capacity = 8u << 20;
  std::string policy = "block";
  std::string kind = "memory";
  std::string data_dir;
  uint64_t segment_size = 64ull << 20;
  std::string fsync = "never";
  uint64_t retain_bytes = 0;
  double retain_age_s = 0;
  bool single_publisher = false;
  bool json = false;
};

int run_create(const Context& ctx, const CreateOptions& o) {
  TopicConfig config;
  config.capacity = o.capacity;
  config.policy = parse_policy(o.policy);
  config.kind = o.kind == "journal" ? TopicKind::kJournal : TopicKind::kMemory;
  config.data_dir = o.data_dir;
  config.segment_bytes = o.segment_size;
  parse_fsync(o.fsync, config);
  config.retain_bytes = o.retain_bytes;
  config.retain_age = std::chrono::milliseconds(static_cast<int64_t>(o.retain_age_s * 1000));
  config.single_publisher = o.single_publisher;
  Bus bus = ctx.open_bus();
  const bool created = bus.create_topic(o.topic, config);
  if (o.json) {
    std::cout << JsonObject().add("topic", o.topic).add("created", created).str() << '\n';
  } else {
    std::cout << (created ? "created " : "exists ") << o.topic << '\n';
  }
  return 0;
}

}  // namespace

void add_topic_command(CLI::App& app, Context& ctx) {
  CLI::App* topic = app.add_subcommand("topic", "manage topics");
  topic->require_subcommand(1);
  CLI::App* create = topic->add_subcommand("create", "create a topic (memory ring, or journal on disk)");
  auto o = std::make_shared<CreateOptions>();
  create->add_option("TOPIC", o->topic)->required();
  create->add_option("--capacity", o->capacity, "ring bytes (a power of two)");
  create->add_option("--policy", o->policy, "block | fail | overwrite");
  create->add_flag("--single-publisher", o->single_publisher,
                   "one publisher at a time (a second is refused), committing by plain stores: faster");
  create->add_option("--kind", o->kind, "memory | journal")->check(CLI::IsMember({"memory", "journal"}));
  create->add_option("--dir", o->data_dir, "journal: directory of the segment files (default: inside the bus)");
  create->add_option("--segment-size", o->segment_size, "journal: bytes per segment file (a power of two)");
  create->add_option("--fsync", o->fsync, "journal: never | interval=MS | always");
  create->add_option("--retain-bytes", o->retain_bytes, "journal: keep at most this many bytes of segments (0: all)");
  create->add_option("--retain-age", o->retain_age_s, "journal: delete segments whose records are older (seconds; 0: never)")
      ->check(CLI::NonNegativeNumber);
  add_json_flag(*create, o->json);
  create->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_create(ctx, *o); }; });
  CLI::App* rm = add_topic_rm(topic);
  rm->callback([&ctx] {
    ctx.run = [&ctx] {
      Bus bus = ctx.open_bus();
      return run_topic_rm(bus);
    };
  });
}

void add_json_flag(CLI::App& command, bool& json) {
  command.add_flag("--json", json, "JSON instead of text: one object per line");
}

}  // namespace shmbus::cli
