#include "topic_rm_command.h"

#include <iostream>
#include <string>

#include "cli_output.h"
#include "shmbus/error.h"

namespace shmbus::cli {
namespace {

struct TopicRmOptions {
  std::string topic;
  bool force = false;
  bool json = false;
};

TopicRmOptions& options() {
  static TopicRmOptions o;
  return o;
}

}  // namespace

CLI::App* add_topic_rm(CLI::App* topic_cmd) {
  TopicRmOptions& o = options();
  auto* rm = topic_cmd->add_subcommand("rm", "remove a topic (refused while processes publish or subscribe to it)");
  rm->add_option("TOPIC", o.topic)->required();
  rm->add_flag("--force", o.force, "remove it even while processes use it: they keep working on a topic nobody sees");
  rm->add_flag("--json", o.json, "print one JSON object");
  return rm;
}

int run_topic_rm(Bus& bus) {
  const TopicRmOptions& o = options();
  if (!bus.remove_topic(o.topic, o.force)) {
    throw Error("no topic " + o.topic + " on bus " + bus.path() + "; nothing removed (shmbus ls lists the topics)",
                ErrorKind::kNotFound);
  }
  if (o.json) {
    std::cout << "{\"topic\":\"" << json_escape(o.topic) << "\",\"removed\":true,\"forced\":"
              << (o.force ? "true" : "false") << "}\n";
  } else {
    std::cout << "removed " << o.topic << '\n';
  }
  return 0;
}

}  // namespace shmbus::cli
