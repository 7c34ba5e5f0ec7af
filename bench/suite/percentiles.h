// Latency distributions and repetition summaries.
#pragma once

#include <vector>

namespace shmbus::bench {

struct Percentiles {
  double p50 = 0, p99 = 0, p999 = 0, p9999 = 0, max = 0;  // nanoseconds
};

// Sorts `samples` in place.
Percentiles summarize(std::vector<double>& samples);

// Median of repetitions (the figure we report) and their spread.
struct Spread {
  double median = 0, min = 0, max = 0;
};
Spread spread_of(std::vector<double> values);

}  // namespace shmbus::bench
