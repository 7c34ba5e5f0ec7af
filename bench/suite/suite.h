// The benchmark suite behind `shmbus bench`: every measurement, repeated and interleaved.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "measurements.h"

namespace shmbus::bench {

struct SuiteOptions {
  int repetitions = 5;
  std::string only;  // run just the measurements whose name contains this (for profiling)
  std::function<void(std::string_view)> progress;  // one line per step, may be empty
};

// Every repetition's figures; each vector has one entry per repetition, in run order.
struct SuiteResults {
  CpuPair cpus;
  std::string cpu_model;
  int repetitions = 0;
  std::vector<Percentiles> floor, floor_two_lines, spin, block, unix_socket;
  std::vector<double> memcpy_bytes_per_s;
  std::map<size_t, std::vector<Throughput>> stream;  // by payload bytes
  // The same stream on a single-publisher topic (TopicConfig::single_publisher: plain stores).
  std::map<size_t, std::vector<Throughput>> single_stream;
  // The naive SPSC ring (naive_ring.h), each repetition measured next to `stream`'s.
  std::map<size_t, std::vector<Throughput>> naive_ring;
  // The naive ring with slots of our frame's size for the payload (naive_ring_frame_stream).
  std::map<size_t, std::vector<Throughput>> naive_ring_frame;
  std::map<int, std::vector<double>> fanout;         // publish rate by reading subscribers
  std::map<int, std::vector<double>> fanout_idle;    // publish rate by attached, idle subscribers
  std::vector<Percentiles> journal_spin;             // journal topics (fsync never)
  std::map<size_t, std::vector<Throughput>> journal_stream;
  std::map<size_t, std::vector<Throughput>> journal_append;  // a publisher alone
  std::map<int, std::vector<GroupCommit>> group_commit;  // fsync always, by publisher threads
};

// Runs each repetition as one pass over every measurement (floor first), so that drifts of a
// shared VM hit ours and the references alike.
SuiteResults run_suite(const SuiteOptions& options);

// The verdicts against the targets of the core-bus issue, from medians of the repetitions.
struct Verdict {
  std::string name;
  double value = 0;  // what we measured (as a ratio where the bar is one)
  double bar = 0;
  bool higher_is_better = false;
  bool issue_bar = true;  // false: a bar of our own, reported beside the issues' (not a verdict on them)
  bool pass() const { return higher_is_better ? value >= bar : value <= bar; }
};
std::vector<Verdict> verdicts(const SuiteResults& results);

// One stream size against the naive ring: ours, the reference, their paired ratio (median of
// the per-repetition ratios, with its spread) and the floor of the same run.
struct AgainstNaiveRing {
  size_t payload_bytes = 0;
  // A single-publisher topic (the like of the naive ring: one producer), else a shared one.
  bool single_publisher = false;
  double messages_per_s = 0;             // ours, median
  double naive_ring_messages_per_s = 0;  // the reference, median
  Spread ratio;                          // ours / naive ring, paired per repetition
  Spread frame_ratio;                    // ours / naive ring of frame-sized slots, paired; empty if not run
  double floor_ns = 0;                   // cache-line ping-pong one-way p50, median; 0: not measured
  static constexpr double kGoal = 1.0;   // issue 12: at least as fast as the ring a user would write
  static constexpr double kNoisySpread = 1.5;  // max / min of the paired ratios beyond which the line says NOISY
  bool met() const { return ratio.median >= kGoal; }
  bool noisy() const { return ratio.min > 0 && ratio.max / ratio.min > kNoisySpread; }
  // "stream 64 B: 9.60 M msg/s = 0.62 x naive ring (goal >= 1 x) [missed]; ..."
  std::string line() const;
};
std::vector<AgainstNaiveRing> against_naive_ring(const SuiteResults& results);

std::string to_markdown(const SuiteResults& results);
std::string to_json(const SuiteResults& results);

}  // namespace shmbus::bench
