// What a message longer than one cache line costs the ring a user would write: the naive SPSC
// ring of `shmbus bench` (bench/suite/naive_ring.h, two pinned processes, every word read) with
// slots of 64 B (one line), 88 B (64 B behind the smallest header DESIGN.md section 3 allows,
// 24 B), 96 B (our frame for 64 B: a 32-byte header) and 128 B (two whole lines), each
// repetition running all four, interleaved. A shmbus record carries a header, so a 64 B message
// is never one line: this is the bound the issue-12 goal (>= 1 x the 64 B ring) runs into.
//
//   shmbus_naive_ring_sizes [repetitions=7]
//
// Prints the medians and each size's paired ratio to the 64 B slots. Results: bench/RESULTS.md.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "measurements.h"
#include "percentiles.h"

int main(int argc, char** argv) {
  using namespace shmbus::bench;
  const int repetitions = argc > 1 ? std::atoi(argv[1]) : 7;
  if (repetitions < 1) {
    std::fprintf(stderr, "usage: shmbus_naive_ring_sizes [repetitions >= 1]\n");
    return 2;
  }
  BenchContext ctx;
  ctx.cpus = CpuPair::detect();
  constexpr size_t kSlots[] = {64, 88, 96, 128};
  std::vector<double> rates[std::size(kSlots)];
  std::vector<double> ratios[std::size(kSlots)];
  for (int rep = 0; rep < repetitions; ++rep) {
    double rate[std::size(kSlots)] = {};
    for (size_t i = 0; i < std::size(kSlots); ++i) {
      const size_t k = (i + static_cast<size_t>(rep)) % std::size(kSlots);  // rotated: no size always runs first
      rate[k] = naive_ring_slot_stream(ctx, kSlots[k]).messages_per_s;
    }
    for (size_t k = 0; k < std::size(kSlots); ++k) {
      rates[k].push_back(rate[k]);
      ratios[k].push_back(rate[k] / rate[0]);
    }
  }
  std::printf("naive SPSC ring, %d interleaved repetitions, M msg/s (median; paired ratio to 64 B slots, min-max):\n", repetitions);
  for (size_t k = 0; k < std::size(kSlots); ++k) {
    const Spread r = spread_of(rates[k]), q = spread_of(ratios[k]);
    std::printf("  %4zu B slots: %6.2f  (%.2f x, %.2f-%.2f)\n", kSlots[k], r.median / 1e6, q.median, q.min, q.max);
  }
  return 0;
}
