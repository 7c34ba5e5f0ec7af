// `shmbus bench [--repetitions N] [--only NAME] [--json]`: the core benchmarks of this machine
// in under a minute. Needs no bus.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <iostream>
#include <memory>

#include "command.h"
#include "suite.h"

namespace shmbus::cli {
namespace {

struct BenchOptions {
  int repetitions = 5;
  std::string only;
  bool json = false;
};

// Prints a markdown table (or, with --json, one JSON object) to stdout; progress to stderr.
int run_bench(const BenchOptions& o) {
  bench::SuiteOptions options;
  options.repetitions = o.repetitions;
  options.only = o.only;
  const bool terminal = isatty(STDERR_FILENO);
  options.progress = [terminal](std::string_view line) {
    // On a terminal one line is rewritten in place; in a log every step is kept.
    if (terminal) {
      std::cerr << "\r\033[K" << line << std::flush;
    } else {
      std::cerr << line << '\n';
    }
  };
  bench::SuiteResults results = bench::run_suite(options);
  if (terminal) std::cerr << "\r\033[K";
  std::cout << (o.json ? bench::to_json(results) + "\n" : bench::to_markdown(results));
  return 0;
}

}  // namespace

void add_bench_command(CLI::App& app, Context& ctx) {
  CLI::App* bench = app.add_subcommand("bench", "measure this machine: floor, latency, throughput, fan-out (< 1 min)");
  auto o = std::make_shared<BenchOptions>();
  bench->add_option("--repetitions", o->repetitions, "interleaved repetitions; medians are reported")->check(CLI::Range(1, 100));
  bench->add_flag("--json", o->json, "one JSON object instead of markdown tables");
  bench->add_option("--only", o->only, "run only measurements whose name contains this: floor-pingpong, floor-2lines-pingpong, "
                    "spin-pingpong, floor-memcpy, stream-64, stream-1024, fanout-idle-N, fanout-reading-N, journal-append-N, "
                    "journal-stream-N, journal-spin-pingpong, journal-always-N, block-pingpong, socket-pingpong");
  bench->callback([&ctx, o] {
    ctx.run = [o] {
      try {
        return run_bench(*o);
      } catch (const std::exception& e) {
        std::cerr << "shmbus bench: " << e.what() << '\n';
        return 1;
      }
    };
  });
}

}  // namespace shmbus::cli
