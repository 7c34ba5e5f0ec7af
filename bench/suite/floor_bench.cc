// The physical floor of this machine: what two cores and one memcpy can do with no bus at all.
#include <atomic>
#include <cstring>
#include <vector>

#include "measurements.h"

namespace shmbus::bench {
namespace {

// One message per direction of `kLines` cache lines: the sequence word (in the first line) is
// stored last (release) and spun on (acquire), the rest is the payload. One line is the floor
// of the issue (a 64-byte message in one cache line); two lines is the floor of any record that
// puts a header before a 64-byte payload, as every bus does.
template <size_t kLines>
struct alignas(64) Message {
  std::atomic<uint64_t> seq{0};
  std::byte payload[kLines * 64 - 8]{};
};
template <size_t kLines>
struct FloorChannel {
  Message<kLines> ping;
  Message<kLines> pong;
};

template <size_t kLines>
Percentiles pingpong_of_lines(BenchContext& ctx) {
  SharedBlock<FloorChannel<kLines>> channel;
  const uint64_t warmup = ctx.round_trips / 10, total = warmup + ctx.round_trips;
  const bool yield = ctx.cpus.shared;
  PeerProcess peer(ctx.cpus.peer, [&] {
    for (uint64_t i = 1; i <= total; ++i) {
      // Acquire: pairs with the parent's release store of ping.seq; the payload is then visible.
      if (!spin_until([&] { return channel->ping.seq.load(std::memory_order_acquire) == i; }, yield, 10)) return 1;
      std::memcpy(channel->pong.payload, channel->ping.payload, sizeof channel->pong.payload);
      // Release: pairs with the parent's acquire spin on pong.seq.
      channel->pong.seq.store(i, std::memory_order_release);
    }
    return 0;
  });

  Pinned pin(ctx.cpus.ours);
  std::vector<double> samples;
  samples.reserve(ctx.round_trips);
  std::byte payload[kLines * 64 - 8] = {};
  for (uint64_t i = 1; i <= total; ++i) {
    const uint64_t t0 = ctx.clock.ticks();
    std::memcpy(&payload, &i, sizeof i);
    std::memcpy(channel->ping.payload, payload, sizeof payload);
    // Release: pairs with the peer's acquire spin on ping.seq.
    channel->ping.seq.store(i, std::memory_order_release);
    // Acquire: pairs with the peer's release store of pong.seq.
    if (!spin_until([&] { return channel->pong.seq.load(std::memory_order_acquire) == i; }, yield, 10)) break;
    const uint64_t t1 = ctx.clock.ticks();
    if (i > warmup) samples.push_back(ctx.clock.to_ns(t1 - t0) / 2);
  }
  peer.join();
  return summarize(samples);
}

}  // namespace

Percentiles floor_pingpong(BenchContext& ctx) { return pingpong_of_lines<1>(ctx); }
Percentiles floor_pingpong_two_lines(BenchContext& ctx) { return pingpong_of_lines<2>(ctx); }

double memcpy_bandwidth(BenchContext& ctx) {
  constexpr size_t kBytes = 64u << 20;
  std::vector<std::byte> from(kBytes, std::byte{1});
  std::vector<std::byte> to(kBytes, std::byte{0});
  Pinned pin(ctx.cpus.ours);
  std::memcpy(to.data(), from.data(), kBytes);  // warm: page faults are not bandwidth
  const double start = BenchClock::seconds_now();
  double copied = 0;
  double now = start;
  while (now - start < ctx.stream_seconds) {
    std::memcpy(to.data(), from.data(), kBytes);
    // Keeps the compiler from proving the copy useless.
    asm volatile("" : : "r"(to.data()) : "memory");
    copied += kBytes;
    now = BenchClock::seconds_now();
  }
  return copied / (now - start);
}

}  // namespace shmbus::bench
