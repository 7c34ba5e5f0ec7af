// Journal recovery and cold replay of a 1 GiB journal on disk (issue 3): how long reopening a
// journal whose bus was lost takes (scan, CRC of every record, finding the tail) beside the
// time just to read its files, and how fast a subscriber replays it from a cold page cache.
// Usage: shmbus_recovery_bench [DIR on a disk] [GiB] [repetitions]. Dropping the page cache
// needs root; without it the "cold" figures are warm and say so.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "log/segments/segment_file.h"
#include "shmbus/bus.h"

namespace {

using namespace shmbus;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

bool drop_page_cache() {
  ::sync();
  const int fd = ::open("/proc/sys/vm/drop_caches", O_WRONLY);
  if (fd < 0) return false;
  const bool ok = ::write(fd, "1", 1) == 1;
  ::close(fd);
  return ok;
}

TopicConfig journal_at(const std::string& dir) {
  TopicConfig c;
  c.kind = TopicKind::kJournal;
  c.data_dir = dir;
  c.segment_bytes = 64ull << 20;
  return c;
}

// Reads every segment file start to end, as `cat` would.
double read_files(const std::string& dir) {
  std::vector<char> buf(4 << 20);
  const auto t0 = Clock::now();
  for (const auto& [base, path] : log::segments::list_segments(dir)) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    while (::read(fd, buf.data(), buf.size()) > 0) {
    }
    ::close(fd);
  }
  return since(t0);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "/var/tmp/shmbus-recovery-bench";
  const uint64_t bytes = static_cast<uint64_t>((argc > 2 ? std::stod(argv[2]) : 1.0) * (1ull << 30));
  const int repetitions = argc > 3 ? std::stoi(argv[3]) : 3;
  const std::string bus_dir = "/dev/shm/shmbus-recovery-bench-" + std::to_string(::getpid());
  fs::remove_all(dir);
  fs::remove_all(bus_dir);
  uint64_t records = 0;
  {
    Bus bus = Bus::open(bus_dir);
    bus.create_topic("journal", journal_at(dir));
    Publisher pub = bus.publisher("journal");
    std::vector<std::byte> payload(1024, std::byte{0x42});
    for (uint64_t written = 0; written < bytes; written += 1056, ++records) {
      if (!pub.publish(std::span<const std::byte>(payload))) return 1;
    }
  }
  fs::remove_all(bus_dir);
  const bool cold = drop_page_cache();
  std::vector<double> read_s, recover_cold_s, recover_warm_s, replay_cold_gbps;
  for (int rep = 0; rep < repetitions; ++rep) {
    drop_page_cache();
    read_s.push_back(read_files(dir));
    for (bool warm : {false, true}) {
      if (!warm) drop_page_cache();
      fs::remove_all(bus_dir);
      Bus bus = Bus::open(bus_dir);
      const auto t0 = Clock::now();
      bus.create_topic("journal", journal_at(dir));  // finds segments on disk: recovery
      (warm ? recover_warm_s : recover_cold_s).push_back(since(t0));
      if (bus.stats("journal").tail_seq != records) {
        std::fprintf(stderr, "recovered %llu records, wrote %llu\n",
                     static_cast<unsigned long long>(bus.stats("journal").tail_seq),
                     static_cast<unsigned long long>(records));
        return 1;
      }
    }
    drop_page_cache();
    {
      BusOptions existing;
      existing.create = false;
      Bus bus = Bus::open(bus_dir, existing);
      Subscription sub = bus.subscribe("journal", {StartAt::earliest()});
      uint64_t seen = 0, payload_bytes = 0, sink = 0;
      const auto t0 = Clock::now();
      while (seen < records) {
        Result<size_t> n = sub.poll([&](const Message& m) {
          payload_bytes += m.payload.size();
          sink ^= static_cast<uint64_t>(m.payload[m.payload.size() / 2]);  // touch the data
        }, 4096);
        if (!n) return 1;
        seen += *n;
      }
      replay_cold_gbps.push_back(static_cast<double>(payload_bytes) / since(t0) / 1e9);
      if (sink == 0xFFFF) std::puts("");
    }
    fs::remove_all(bus_dir);
  }
  fs::remove_all(dir);
  std::printf("journal of %.2f GiB (%llu records of 1 KiB, 64 MiB segments) in %s; %d repetitions, medians%s\n\n",
              static_cast<double>(bytes) / (1ull << 30), static_cast<unsigned long long>(records), dir.c_str(), repetitions,
              cold ? "" : " (page cache NOT dropped: not root, figures are warm)");
  std::printf("| measurement | median | spread |\n|---|---:|---:|\n");
  auto row = [](const char* name, const std::vector<double>& v, const char* unit) {
    std::printf("| %s | %.3f %s | %.3f – %.3f |\n", name, median(v), unit, *std::min_element(v.begin(), v.end()),
                *std::max_element(v.begin(), v.end()));
  };
  row("read the files, cold (cat)", read_s, "s");
  row("recovery on open, cold page cache", recover_cold_s, "s");
  row("recovery on open, warm page cache (CPU only)", recover_warm_s, "s");
  row("replay from the start, cold page cache", replay_cold_gbps, "GB/s");
  std::printf("\nrecovery, cold, minus reading the files: %.3f s\n", median(recover_cold_s) - median(read_s));
  return 0;
}
