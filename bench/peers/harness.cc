#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_clock.h"
#include "channel.h"
#include "percentiles.h"
#include "process_pair.h"

namespace shmbus::bench::peers {
namespace {

constexpr std::byte kData{1};
constexpr std::byte kStop{2};

struct Options {
  std::string mode = "latency";
  size_t size = 64;
  size_t rounds = 200'000;
  double seconds = 1.0;  // stream: measured time, after
  double warmup = 0.3;   // this much unmeasured (caches, page faults, a journal's first segments)
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i], value = argv[i + 1];
    if (key == "--mode") o.mode = value;
    else if (key == "--size") o.size = std::stoul(value);
    else if (key == "--rounds") o.rounds = std::stoul(value);
    else if (key == "--seconds") o.seconds = std::stod(value);
    else if (key == "--warmup") o.warmup = std::stod(value);
    else throw std::invalid_argument("unknown option " + key);
  }
  if (o.size < 8) throw std::invalid_argument("--size must be at least 8 bytes");
  return o;
}

// One-way latency = round trip / 2, per round, after a tenth as many warm-up rounds.
void latency(Channel& channel, const Options& o, const std::string& system, const CpuPair& cpus) {
  std::vector<std::byte> out(o.size, kData), in(o.size + 64);
  const size_t warmup = o.rounds / 10, total = warmup + o.rounds;
  PeerProcess peer(cpus.peer, [&] {
    channel.open(1);
    for (size_t i = 0; i < total; ++i) {
      const size_t n = channel.receive(in.data(), in.size());
      channel.send(in.data(), n);
    }
    return 0;
  });
  Pinned pin(cpus.ours);
  channel.open(0);
  BenchClock clock;
  std::vector<double> one_way;
  one_way.reserve(o.rounds);
  for (size_t i = 0; i < total; ++i) {
    const uint64_t t0 = clock.ticks();
    channel.send(out.data(), out.size());
    channel.receive(in.data(), in.size());
    if (i >= warmup) one_way.push_back(clock.to_ns(clock.ticks() - t0) / 2);
  }
  peer.join(120);
  const Percentiles p = summarize(one_way);
  std::printf("{\"system\":\"%s\",\"mode\":\"latency\",\"size\":%zu,\"p50_ns\":%.1f,\"p99_ns\":%.1f,\"p999_ns\":%.1f,"
              "\"p9999_ns\":%.1f,\"max_ns\":%.1f}\n",
              system.c_str(), o.size, p.p50, p.p99, p.p999, p.p9999, p.max);
}

struct StreamResult {
  std::atomic<uint64_t> done{0};
  double msgs_per_s = 0, bytes_per_s = 0;
};

// The parent sends for `seconds`, then a stop message; the child counts from its first message
// to the stop.
void stream(Channel& channel, const Options& o, const std::string& system, const CpuPair& cpus) {
  SharedBlock<StreamResult> result;
  PeerProcess peer(cpus.peer, [&] {
    channel.open(1);
    std::vector<std::byte> in(o.size + 64);
    uint64_t messages = 0, bytes = 0, sink = 0;
    double first = 0, measured_from = 0;
    for (uint64_t i = 0;; ++i) {
      const size_t n = channel.receive(in.data(), in.size());
      if (first == 0) first = BenchClock::seconds_now();
      if (in[0] == kStop) break;
      for (size_t k = 0; k + 8 <= n; k += 64) sink += static_cast<uint64_t>(in[k + 1]);  // touch each line
      ++messages;
      bytes += n;
      if (measured_from == 0 && (i & 255) == 0 && BenchClock::seconds_now() - first >= o.warmup) {
        measured_from = BenchClock::seconds_now();
        messages = bytes = 0;
      }
    }
    const double seconds = BenchClock::seconds_now() - (measured_from != 0 ? measured_from : first);
    result->msgs_per_s = static_cast<double>(messages) / seconds;
    result->bytes_per_s = static_cast<double>(bytes) / seconds;
    // Release: the figures before the flag; pairs with the parent's acquire.
    asm volatile("" : : "r"(sink));  // the reads are part of the work
    result->done.store(1, std::memory_order_release);
    return 0;
  });
  Pinned pin(cpus.ours);
  channel.open(0);
  std::vector<std::byte> out(o.size, kData);
  const double start = BenchClock::seconds_now();
  for (uint64_t i = 0;; ++i) {
    std::memcpy(out.data() + 1, &i, std::min<size_t>(7, o.size - 1));
    channel.send(out.data(), out.size());
    if ((i & 255) == 0 && BenchClock::seconds_now() - start > o.warmup + o.seconds) break;
  }
  out[0] = kStop;
  channel.send(out.data(), out.size());
  peer.join(120);
  if (result->done.load(std::memory_order_acquire) == 0) throw std::runtime_error("the receiver did not finish");
  std::printf("{\"system\":\"%s\",\"mode\":\"stream\",\"size\":%zu,\"msgs_per_s\":%.0f,\"bytes_per_s\":%.0f}\n",
              system.c_str(), o.size, result->msgs_per_s, result->bytes_per_s);
}

}  // namespace

int run_peer_main(int argc, char** argv, const std::string& system, const std::function<std::unique_ptr<Channel>()>& make) {
  try {
    const Options o = parse(argc, argv);
    const CpuPair cpus = CpuPair::detect();
    std::unique_ptr<Channel> channel = make();
    channel->prepare();
    if (o.mode == "latency") {
      latency(*channel, o, system, cpus);
    } else if (o.mode == "stream") {
      stream(*channel, o, system, cpus);
    } else {
      throw std::invalid_argument("--mode is latency or stream");
    }
    std::fflush(stdout);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", system.c_str(), e.what());
    return 1;
  }
}

}  // namespace shmbus::bench::peers
