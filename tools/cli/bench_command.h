// `shmbus bench`: the core benchmarks of this machine in under a minute.
#pragma once

#include <string>

namespace shmbus::cli {

// Prints a markdown table (or, with `json`, one JSON object) to stdout; progress to stderr.
int run_bench(int repetitions, const std::string& only, bool json);

}  // namespace shmbus::cli
