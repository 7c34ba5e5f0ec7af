// One-way latency as half a round trip: shmbus (spinning or asleep in the futex) and a Unix socket.
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "measurements.h"
#include "scratch_bus.h"
#include "shmbus/error.h"

namespace shmbus::bench {
namespace {

constexpr size_t kPayload = 64;
// A latency-tuned ring: small enough that its lines stay in the two cores' caches.
constexpr uint64_t kLatencyRing = 64 * 1024;
constexpr auto kPeerTimeout = std::chrono::seconds(10);
using Payload = std::array<std::byte, kPayload>;

// Waits for one record on `sub` (by the subscription's own wait strategy) and copies its
// payload out. False on timeout or error.
bool take_one(Subscription& sub, Payload& out) {
  auto copy = [&](const Message& m) { std::memcpy(out.data(), m.payload.data(), std::min(m.payload.size(), kPayload)); };
  Result<size_t> n = sub.receive(copy, 1, kPeerTimeout);
  return n && *n == 1;
}

}  // namespace

Percentiles shmbus_pingpong(BenchContext& ctx, WaitStrategy wait, bool journal) {
  ScratchBus scratch(ctx.fresh_bus_path());
  TopicConfig config;
  config.capacity = kLatencyRing;
  if (journal) {
    config.kind = TopicKind::kJournal;
    config.segment_bytes = 64 << 20;  // one segment holds the whole run: no creation mid-measure
  }
  scratch.bus().create_topic("bench.ping", config);
  scratch.bus().create_topic("bench.pong", config);
  SharedBlock<std::atomic<uint32_t>> ready;
  const size_t measured = wait == WaitStrategy::kBlock ? ctx.blocking_round_trips : ctx.round_trips;
  const uint64_t warmup = measured / 10, total = warmup + measured;
  // Spinning on one shared CPU would only burn each side's time slice.
  if (wait == WaitStrategy::kSpin && ctx.cpus.shared) wait = WaitStrategy::kYield;

  Subscription pong_in = scratch.bus().subscribe("bench.pong", {StartAt::latest(), wait});
  Publisher ping_out = scratch.bus().publisher("bench.ping");
  PeerProcess peer(ctx.cpus.peer, [&] {
    Bus bus = scratch.open_in_peer();
    Subscription ping_in = bus.subscribe("bench.ping", {StartAt::latest(), wait});
    Publisher pong_out = bus.publisher("bench.pong");
    // Release: pairs with the parent's acquire spin; our subscription exists before any ping.
    ready->store(1, std::memory_order_release);
    Payload buffer{};
    for (uint64_t i = 0; i < total; ++i) {
      if (!take_one(ping_in, buffer)) return 1;
      if (!pong_out.publish(std::span<const std::byte>(buffer))) return 2;
    }
    return 0;
  });

  Pinned pin(ctx.cpus.ours);
  if (!spin_until([&] { return ready->load(std::memory_order_acquire) == 1; }, true, 10)) {
    throw Error("benchmark: the ping-pong peer did not start");
  }
  std::vector<double> samples;
  samples.reserve(measured);
  Payload out{}, in{};
  for (uint64_t i = 1; i <= total; ++i) {
    const uint64_t t0 = ctx.clock.ticks();
    std::memcpy(out.data(), &i, sizeof i);
    if (!ping_out.publish(std::span<const std::byte>(out))) break;
    if (!take_one(pong_in, in)) break;
    const uint64_t t1 = ctx.clock.ticks();
    if (i > warmup) samples.push_back(ctx.clock.to_ns(t1 - t0) / 2);
  }
  peer.join();
  if (samples.size() != measured) throw Error("benchmark: the shmbus ping-pong lost its peer");
  return summarize(samples);
}

namespace {
bool transfer(int fd, std::byte* data, size_t n, bool send) {
  for (size_t done = 0; done < n;) {
    ssize_t r = send ? ::write(fd, data + done, n - done) : ::read(fd, data + done, n - done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    done += static_cast<size_t>(r);
  }
  return true;
}
}  // namespace

Percentiles socket_pingpong(BenchContext& ctx) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) throw Error(std::string("benchmark: socketpair: ") + std::strerror(errno));
  const size_t measured = ctx.blocking_round_trips;
  const uint64_t warmup = measured / 10, total = warmup + measured;
  PeerProcess peer(ctx.cpus.peer, [&] {
    ::close(fds[0]);
    Payload buffer{};
    for (uint64_t i = 0; i < total; ++i) {
      if (!transfer(fds[1], buffer.data(), kPayload, false) || !transfer(fds[1], buffer.data(), kPayload, true)) return 1;
    }
    return 0;
  });
  ::close(fds[1]);

  Pinned pin(ctx.cpus.ours);
  std::vector<double> samples;
  samples.reserve(measured);
  Payload buffer{};
  for (uint64_t i = 1; i <= total; ++i) {
    const uint64_t t0 = ctx.clock.ticks();
    std::memcpy(buffer.data(), &i, sizeof i);
    if (!transfer(fds[0], buffer.data(), kPayload, true) || !transfer(fds[0], buffer.data(), kPayload, false)) break;
    const uint64_t t1 = ctx.clock.ticks();
    if (i > warmup) samples.push_back(ctx.clock.to_ns(t1 - t0) / 2);
  }
  ::close(fds[0]);
  peer.join();
  if (samples.size() != measured) throw Error("benchmark: the socket ping-pong lost its peer");
  return summarize(samples);
}

}  // namespace shmbus::bench
