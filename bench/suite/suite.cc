#include "suite.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>

namespace shmbus::bench {
namespace {

constexpr size_t kStreamSizes[] = {64, 1024};
constexpr int kFanouts[] = {0, 1, 4, 16};

// Contains "stream-64", so `--only stream-64` measures the pair its ratio needs.
std::string naive_ring_step(size_t size) { return "naive-ring-stream-" + std::to_string(size); }
std::string naive_ring_frame_step(size_t size) { return "naive-ring-frame-stream-" + std::to_string(size); }

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) {
      size_t colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  }
  return "unknown";
}

class ScratchRoot {
 public:
  ScratchRoot() : path_("/dev/shm/shmbus-bench-" + std::to_string(::getpid())) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchRoot() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

SuiteResults run_suite(const SuiteOptions& options) {
  ScratchRoot root;
  BenchContext ctx;
  ctx.cpus = CpuPair::detect();
  ctx.bus_root = root.path();
  SuiteResults r;
  r.cpus = ctx.cpus;
  r.cpu_model = cpu_model();
  r.repetitions = options.repetitions;
  auto selected = [&](const std::string& name) { return options.only.empty() || name.find(options.only) != std::string::npos; };
  // Every stream figure is stated beside the floor of its own run: a stream selected by --only
  // brings the floor along.
  bool stream_selected = false;
  for (size_t size : kStreamSizes) {
    stream_selected = stream_selected || selected("stream-" + std::to_string(size)) || selected(naive_ring_step(size)) ||
                      selected(naive_ring_frame_step(size));
  }
  // Runs `measure` unless filtered out by --only; `name` is what --only matches.
  auto step = [&](int rep, const std::string& name, auto&& measure, bool forced = false) {
    if (!forced && !selected(name)) return;
    if (options.progress) {
      options.progress("[" + std::to_string(rep + 1) + "/" + std::to_string(options.repetitions) + "] " + name);
    }
    measure();
  };
  for (int rep = 0; rep < options.repetitions; ++rep) {
    step(rep, "floor-pingpong", [&] { r.floor.push_back(floor_pingpong(ctx)); }, stream_selected);
    step(rep, "floor-2lines-pingpong", [&] { r.floor_two_lines.push_back(floor_pingpong_two_lines(ctx)); });
    step(rep, "spin-pingpong", [&] { r.spin.push_back(shmbus_pingpong(ctx, WaitStrategy::kSpin)); });
    // Right after the memory topic's: the two are compared repetition by repetition.
    step(rep, "journal-spin-pingpong", [&] { r.journal_spin.push_back(shmbus_pingpong(ctx, WaitStrategy::kSpin, true)); });
    step(rep, "floor-memcpy", [&] { r.memcpy_bytes_per_s.push_back(memcpy_bandwidth(ctx)); });
    for (size_t size : kStreamSizes) {
      // Ours (a shared and a single-publisher topic) and the naive rings back to back, which
      // goes first rotating by repetition, so none always gets the host's state after another.
      const std::string name = std::to_string(size);
      std::function<void()> runs[] = {
          [&] { step(rep, "stream-" + name, [&] { r.stream[size].push_back(shmbus_stream(ctx, size)); }); },
          [&] { step(rep, "single-stream-" + name, [&] { r.single_stream[size].push_back(shmbus_stream(ctx, size, false, true)); }); },
          [&] { step(rep, naive_ring_step(size), [&] { r.naive_ring[size].push_back(naive_ring_stream(ctx, size)); }); },
          [&] {
            step(rep, naive_ring_frame_step(size), [&] { r.naive_ring_frame[size].push_back(naive_ring_frame_stream(ctx, size)); });
          },
      };
      constexpr int kRuns = static_cast<int>(std::size(runs));
      for (int i = 0; i < kRuns; ++i) runs[(rep + i) % kRuns]();
    }
    for (int subs : kFanouts) {
      step(rep, "fanout-idle-" + std::to_string(subs), [&] { r.fanout_idle[subs].push_back(fanout_publish_rate(ctx, subs, false)); });
      step(rep, "fanout-reading-" + std::to_string(subs), [&] { r.fanout[subs].push_back(fanout_publish_rate(ctx, subs, true)); });
    }
    for (size_t size : kStreamSizes) {
      step(rep, "journal-append-" + std::to_string(size), [&] { r.journal_append[size].push_back(journal_append(ctx, size)); });
    }
    for (size_t size : kStreamSizes) {
      step(rep, "journal-stream-" + std::to_string(size),
           [&] { r.journal_stream[size].push_back(shmbus_stream(ctx, size, true)); });
    }
    for (int threads : {1, 2, 8}) {
      step(rep, "journal-always-" + std::to_string(threads),
           [&] { r.group_commit[threads].push_back(journal_group_commit(ctx, threads)); });
    }
    step(rep, "block-pingpong", [&] { r.block.push_back(shmbus_pingpong(ctx, WaitStrategy::kBlock)); });
    step(rep, "socket-pingpong", [&] { r.unix_socket.push_back(socket_pingpong(ctx)); });
  }
  return r;
}

}  // namespace shmbus::bench
