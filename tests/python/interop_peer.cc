// The C++ side of the Python interop tests: publishes or checks COUNT records in the scheme
// that tests/python/test_interop.py uses from Python.
//   interop_peer publish BUS TOPIC COUNT
//   interop_peer subscribe BUS TOPIC COUNT   (prints "attached" once subscribed)
// Record i: payload = i as 8 little-endian bytes, then 24 bytes (i * 131 + k) & 0xff;
// headers = {seq: i, type: interop}. Exit code 0 = every record present, in order, intact.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "shmbus/shmbus.h"

namespace {

constexpr size_t kPayload = 32;

void fill(uint64_t i, std::byte* out) {
  for (int b = 0; b < 8; ++b) out[b] = static_cast<std::byte>((i >> (8 * b)) & 0xff);
  for (size_t k = 0; k < kPayload - 8; ++k) out[8 + k] = static_cast<std::byte>((i * 131 + k) & 0xff);
}

int publish(shmbus::Bus& bus, const std::string& topic, uint64_t count) {
  shmbus::Publisher pub = bus.publisher(topic);
  std::byte payload[kPayload];
  for (uint64_t i = 0; i < count; ++i) {
    fill(i, payload);
    std::string seq = std::to_string(i);
    const shmbus::Header headers[] = {{"seq", seq}, {"type", "interop"}};
    if (!pub.publish(payload, headers)) {
      std::fprintf(stderr, "publish %llu failed\n", static_cast<unsigned long long>(i));
      return 2;
    }
  }
  return 0;
}

int subscribe(shmbus::Bus& bus, const std::string& topic, uint64_t count) {
  shmbus::Subscription sub = bus.subscribe(topic, {shmbus::StartAt::earliest(), shmbus::WaitStrategy::kBlock});
  std::printf("attached\n");
  std::fflush(stdout);
  uint64_t next = 0;
  std::string problem;
  std::byte expected[kPayload];
  auto check = [&](const shmbus::Message& m) {
    if (!problem.empty()) return;
    fill(next, expected);
    auto seq = m.headers.find("seq");
    auto type = m.headers.find("type");
    if (m.payload.size() != kPayload || std::memcmp(m.payload.data(), expected, kPayload) != 0) {
      problem = "payload of record " + std::to_string(next) + " differs";
    } else if (!seq || *seq != std::to_string(next) || !type || *type != "interop") {
      problem = "headers of record " + std::to_string(next) + " differ";
    }
    ++next;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (next < count && problem.empty() && std::chrono::steady_clock::now() < deadline) {
    shmbus::Result<size_t> n = sub.receive(check, 4096, std::chrono::milliseconds(100));
    if (!n) problem = std::string("receive failed: ") + shmbus::to_string(n.error());
  }
  if (problem.empty() && next != count) problem = "only " + std::to_string(next) + " records arrived";
  if (!problem.empty()) {
    std::fprintf(stderr, "%s\n", problem.c_str());
    return 3;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: interop_peer publish|subscribe BUS TOPIC COUNT\n");
    return 64;
  }
  try {
    shmbus::Bus bus = shmbus::Bus::open(argv[2]);
    const std::string mode = argv[1];
    const uint64_t count = std::stoull(argv[4]);
    if (mode == "publish") return publish(bus, argv[3], count);
    if (mode == "subscribe") return subscribe(bus, argv[3], count);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "interop_peer: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "unknown mode %s\n", argv[1]);
  return 64;
}
