// One process of the live demo: `demo_node pub BUS TOPIC SECONDS` publishes as fast as the bus
// takes (yielding now and then); `demo_node sub BUS PATTERN SECONDS NAME` prints, each second,
// its receive rate and publish->receive latency percentiles (from the records' timestamps).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "shmbus/shmbus.h"

namespace {
using Clock = std::chrono::steady_clock;

int64_t now_realtime_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int run_pub(const std::string& bus_path, const std::string& topic, double seconds) {
  shmbus::Bus bus = shmbus::Bus::open(bus_path);
  shmbus::Publisher pub = bus.publisher(topic);
  char payload[64] = {};
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  uint64_t n = 0;
  while (Clock::now() < end) {
    std::snprintf(payload, sizeof payload, "%s #%llu", topic.c_str(), static_cast<unsigned long long>(n));
    if (pub.publish(std::string_view(payload, sizeof payload))) ++n;
    if ((n & 1023) == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));  // share 2 cores
  }
  std::printf("[pub %s] published %llu messages\n", topic.c_str(), static_cast<unsigned long long>(n));
  return 0;
}

int run_sub(const std::string& bus_path, const std::string& pattern, double seconds, const std::string& name) {
  shmbus::Bus bus = shmbus::Bus::open(bus_path);
  shmbus::Subscription sub = bus.subscribe(pattern, {shmbus::StartAt::latest(), shmbus::WaitStrategy::kBlock});
  std::vector<int64_t> latencies;
  latencies.reserve(1 << 22);
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  auto next_report = Clock::now() + std::chrono::seconds(1);
  uint64_t total = 0;
  while (Clock::now() < end) {
    (void)sub.receive([&](const shmbus::Message& m) {
      if (latencies.size() < latencies.capacity()) latencies.push_back(now_realtime_ns() - m.timestamp_ns);
    }, 4096, std::chrono::milliseconds(50));
    if (Clock::now() >= next_report) {
      std::sort(latencies.begin(), latencies.end());
      auto pct = [&](double p) { return latencies.empty() ? 0 : latencies[size_t(p * double(latencies.size() - 1))]; };
      std::printf("[sub %-8s %-14s] %9zu msg/s  latency p50 %7.1f us  p99 %8.1f us  topics %zu  lost %llu\n",
                  name.c_str(), pattern.c_str(), latencies.size(), pct(0.5) / 1e3, pct(0.99) / 1e3, sub.topic_count(),
                  static_cast<unsigned long long>(sub.lost()));
      std::fflush(stdout);
      total += latencies.size();
      latencies.clear();
      next_report += std::chrono::seconds(1);
    }
  }
  std::printf("[sub %s] received %llu messages\n", name.c_str(), static_cast<unsigned long long>(total + latencies.size()));
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  try {
    std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "pub" && argc == 5) return run_pub(argv[2], argv[3], std::stod(argv[4]));
    if (mode == "sub" && argc == 6) return run_sub(argv[2], argv[3], std::stod(argv[4]), argv[5]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "demo_node: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "usage: demo_node pub BUS TOPIC SECONDS | sub BUS PATTERN SECONDS NAME\n");
  return 2;
}
