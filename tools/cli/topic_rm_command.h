// `shmbus topic rm TOPIC [--force] [--json]`: removes a topic.
#pragma once

#include <CLI/CLI.hpp>

#include "shmbus/bus.h"

namespace shmbus::cli {

// Adds `rm` to the `topic` subcommand; the options live until the program ends.
CLI::App* add_topic_rm(CLI::App* topic_cmd);
// Runs it: prints "removed TOPIC" (or one JSON object) and returns 0; throws Error (printed by
// main as "shmbus: ...", exit code 1) if there is no such topic or live processes hold it.
int run_topic_rm(Bus& bus);

}  // namespace shmbus::cli
