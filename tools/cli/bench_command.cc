#include "bench_command.h"

#include <unistd.h>

#include <iostream>

#include "suite.h"

namespace shmbus::cli {

int run_bench(int repetitions, const std::string& only, bool json) {
  bench::SuiteOptions options;
  options.repetitions = repetitions;
  options.only = only;
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
  std::cout << (json ? bench::to_json(results) + "\n" : bench::to_markdown(results));
  return 0;
}

}  // namespace shmbus::cli
