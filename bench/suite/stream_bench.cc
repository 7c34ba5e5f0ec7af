// Throughput: one publisher streaming to one subscriber (and the naive ring it is held against),
// and a publisher's rate under fan-out.
#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "measurements.h"
#include "naive_ring.h"
#include "scratch_bus.h"
#include "shmbus/error.h"

namespace shmbus::bench {
namespace {

constexpr double kWarmupSeconds = 0.05;
constexpr double kJournalWarmupSeconds = 0.3;

struct StreamControl {
  alignas(64) std::atomic<uint32_t> ready{0};
  alignas(64) std::atomic<uint32_t> stop{0};
};

// Reads every 8-byte word of a payload, as a consumer that uses the data must.
uint64_t fold_payload(std::span<const std::byte> payload) noexcept {
  uint64_t acc = 0, word = 0;
  size_t i = 0;
  for (; i + 8 <= payload.size(); i += 8) {
    std::memcpy(&word, payload.data() + i, 8);
    acc ^= word;
  }
  for (; i < payload.size(); ++i) acc ^= static_cast<uint64_t>(payload[i]);
  return acc;
}

void wait_ready(const StreamControl& control) {
  // Acquire: pairs with the peer's release store once its objects exist.
  if (!spin_until([&] { return control.ready.load(std::memory_order_acquire) == 1; }, true, 10)) {
    throw Error("benchmark: the peer process did not start");
  }
}

// 64 MiB segments in the scratch directory, fsync never; retention keeps four (and the spares
// it recycles), as a long-running journal does: growing it reuses allocated pages.
TopicConfig bench_journal_config() {
  TopicConfig config;
  config.kind = TopicKind::kJournal;
  config.retain_bytes = 4 * (config.segment_bytes + 4096);
  return config;
}

// Publishes records of `payload_bytes` (each stamped with its number) as fast as this thread can;
// records per second over `seconds`, after `warmup` seconds that are not counted.
double publish_rate(Publisher& pub, size_t payload_bytes, double warmup, double seconds) {
  std::vector<std::byte> payload(payload_bytes, std::byte{0x5a});
  const double start = BenchClock::seconds_now();
  double window_start = 0, now = start;
  uint64_t published = 0, window_published = 0;
  // Until a whole window after the warm-up: a window opened by a late batch is never empty.
  while (window_start == 0 || now - window_start < seconds) {
    for (int i = 0; i < 256; ++i, ++published) {
      std::memcpy(payload.data(), &published, std::min(sizeof published, payload_bytes));
      if (!pub.publish(std::span<const std::byte>(payload))) throw Error("benchmark: publish failed");
    }
    now = BenchClock::seconds_now();
    if (window_start == 0 && now - start >= warmup) {
      window_start = now;
      window_published = published;
    }
  }
  return static_cast<double>(published - window_published) / (now - window_start);
}

}  // namespace

Throughput journal_append(BenchContext& ctx, size_t payload_bytes) {
  ScratchBus scratch(ctx.fresh_bus_path());
  scratch.bus().create_topic("bench.append", bench_journal_config());
  Publisher pub = scratch.bus().publisher("bench.append");
  Pinned pin(ctx.cpus.ours);
  const double messages = publish_rate(pub, payload_bytes, kJournalWarmupSeconds, ctx.stream_seconds);
  return {messages, messages * static_cast<double>(payload_bytes)};
}

Throughput shmbus_stream(BenchContext& ctx, size_t payload_bytes, bool journal, bool single_publisher) {
  ScratchBus scratch(ctx.fresh_bus_path());
  TopicConfig config = journal ? bench_journal_config() : TopicConfig{};  // defaults: 8 MiB ring, block
  config.single_publisher = single_publisher;
  scratch.bus().create_topic("bench.stream", config);
  SharedBlock<StreamControl> control;
  const WaitStrategy wait = ctx.cpus.shared ? WaitStrategy::kYield : WaitStrategy::kSpin;
  Subscription sub = scratch.bus().subscribe("bench.stream", {StartAt::latest(), wait});

  PeerProcess peer(ctx.cpus.peer, [&] {
    Bus bus = scratch.open_in_peer();
    Publisher pub = bus.publisher("bench.stream");
    std::vector<std::byte> payload(payload_bytes, std::byte{0x5a});
    control->ready.store(1, std::memory_order_release);  // pairs with wait_ready()
    for (uint64_t seq = 0;; ++seq) {
      // Relaxed: a stop flag; a few extra messages after it changes nothing.
      if ((seq & 255) == 0 && control->stop.load(std::memory_order_relaxed)) return 0;
      std::memcpy(payload.data(), &seq, std::min(sizeof seq, payload_bytes));
      if (!pub.publish(std::span<const std::byte>(payload))) return 1;
    }
  });

  Pinned pin(ctx.cpus.ours);
  wait_ready(*control);
  uint64_t messages = 0, bytes = 0, sink = 0;
  auto consume = [&](const Message& m) {
    sink ^= fold_payload(m.payload);
    ++messages;
    bytes += m.payload.size();
  };
  const double start = BenchClock::seconds_now();
  double window_start = 0, now = start;
  uint64_t window_messages = 0, window_bytes = 0;
  // A journal reaches its steady state (retention recycling segments) after a few segments.
  const double warmup = journal ? kJournalWarmupSeconds : kWarmupSeconds;
  // Until a whole window after the warm-up: a receive that ran past the end of the warm-up
  // (a journal's new segment, a descheduled peer) must not leave an empty window (0 / 0).
  while (window_start == 0 || now - window_start < ctx.stream_seconds) {
    Result<size_t> n = sub.receive(consume, 256, std::chrono::milliseconds(100));
    if (!n) throw Error("benchmark: receive failed: " + std::string(to_string(n.error())));
    now = BenchClock::seconds_now();
    if (window_start == 0 && now - start >= warmup) {
      window_start = now;
      window_messages = messages;
      window_bytes = bytes;
    }
  }
  // Relaxed: see the peer's check.
  control->stop.store(1, std::memory_order_relaxed);
  sub = Subscription{};  // detached: a publisher blocked on our position is free to finish
  peer.join();
  asm volatile("" : : "r"(sink));
  const double seconds = now - window_start;
  return {static_cast<double>(messages - window_messages) / seconds, static_cast<double>(bytes - window_bytes) / seconds};
}

namespace {

// The naive ring holds as many bytes as the shmbus stream's topic (TopicConfig{}.capacity), so
// neither side of the ratio gets a ring that fits a cache the other's does not.
constexpr size_t kNaiveRingBytes = 8u << 20;

// The same stream as shmbus_stream() through NaiveRing: the peer stamps each message with its
// number and pushes it, we read every word of it (and check the number: a broken reference
// would be fast and wrong) and pop it; spinning back to back when empty or full, as a
// kSpin subscriber does.
template <size_t kSlotBytes, size_t kSlots = kNaiveRingBytes / kSlotBytes>
Throughput naive_ring_stream_of(BenchContext& ctx) {
  using Ring = NaiveRing<kSlotBytes, kSlots>;
  static_assert(sizeof(Ring) == 4 * kCacheLine + kSlots * kSlotBytes, "each index alone on its line, then the slots");
  SharedBlock<Ring> ring;
  ring->prefault();
  SharedBlock<StreamControl> control;
  const bool yield = ctx.cpus.shared;
  PeerProcess peer(ctx.cpus.peer, [&] {
    alignas(8) std::byte payload[kSlotBytes];
    std::memset(payload, 0x5a, sizeof payload);
    control->ready.store(1, std::memory_order_release);  // pairs with wait_ready()
    for (uint64_t seq = 0;; ++seq) {
      std::memcpy(payload, &seq, sizeof seq);
      while (!ring->try_push(payload)) {
        // Relaxed: a stop flag; only looked at when full, where we would wait anyway.
        if (control->stop.load(std::memory_order_relaxed)) return 0;
        if (yield) sched_yield();
      }
      // Relaxed: as in shmbus_stream's peer.
      if ((seq & 255) == 0 && control->stop.load(std::memory_order_relaxed)) return 0;
    }
  });

  Pinned pin(ctx.cpus.ours);
  wait_ready(*control);
  uint64_t messages = 0, sink = 0, word = 0;
  const double start = BenchClock::seconds_now();
  double window_start = 0, now = start;
  uint64_t window_messages = 0;
  while (window_start == 0 || now - window_start < ctx.stream_seconds) {  // as in shmbus_stream()
    // Up to 256 messages between clock reads, as shmbus_stream's receive() batches.
    for (int i = 0; i < 256; ++i) {
      const std::byte* message = ring->front();
      if (message == nullptr) {
        if (yield) sched_yield();
        continue;
      }
      sink ^= fold_payload(std::span<const std::byte>(message, kSlotBytes));
      std::memcpy(&word, message, sizeof word);
      if (word != messages) throw Error("benchmark: the naive ring lost or reordered a message");
      ring->pop();
      ++messages;
    }
    now = BenchClock::seconds_now();
    if (window_start == 0 && now - start >= kWarmupSeconds) {
      window_start = now;
      window_messages = messages;
    }
  }
  control->stop.store(1, std::memory_order_relaxed);  // relaxed: a stop flag
  peer.join();
  asm volatile("" : : "r"(sink));
  const double rate = static_cast<double>(messages - window_messages) / (now - window_start);
  return {rate, rate * static_cast<double>(kSlotBytes)};
}

}  // namespace

Throughput naive_ring_stream(BenchContext& ctx, size_t payload_bytes) {
  if (payload_bytes != 64 && payload_bytes != 1024) {
    throw Error("benchmark: the naive ring has slots of 64 B or 1 KiB, not " + std::to_string(payload_bytes));
  }
  return naive_ring_slot_stream(ctx, payload_bytes);
}

Throughput naive_ring_slot_stream(BenchContext& ctx, size_t slot_bytes) {
  // As many slots as come nearest the 8 MiB of the others (a power of two).
  switch (slot_bytes) {
    case 64: return naive_ring_stream_of<64>(ctx);
    case 88: return naive_ring_stream_of<88, (1u << 16)>(ctx);     // 5.5 MiB
    case 96: return naive_ring_stream_of<96, (1u << 16)>(ctx);     // 6 MiB
    case 128: return naive_ring_stream_of<128>(ctx);
    case 1024: return naive_ring_stream_of<1024>(ctx);
    case 1056: return naive_ring_stream_of<1056, (1u << 13)>(ctx);  // 8.25 MiB
    default: throw Error("benchmark: the naive ring has slots of 64, 88, 96, 128, 1024 or 1056 B, not " + std::to_string(slot_bytes));
  }
}

// docs/format.md 3.1: a 32-byte header, frames 16-byte aligned: 96 B for 64, 1056 B for 1 KiB.
// The message is stamped and checked as in naive_ring_stream() and the consumer reads every word
// of the slot: the same bytes per message cross between the cores as in our stream, without
// our header's meaning.
Throughput naive_ring_frame_stream(BenchContext& ctx, size_t payload_bytes) {
  if (payload_bytes != 64 && payload_bytes != 1024) {
    throw Error("benchmark: the frame-sized naive ring is for 64 B or 1 KiB, not " + std::to_string(payload_bytes));
  }
  Throughput t = naive_ring_slot_stream(ctx, (32 + payload_bytes + 15) / 16 * 16);
  t.bytes_per_s = t.messages_per_s * static_cast<double>(payload_bytes);  // the payload's bytes, as ours count
  return t;
}

double fanout_publish_rate(BenchContext& ctx, int subscribers, bool reading) {
  ScratchBus scratch(ctx.fresh_bus_path());
  TopicConfig config;
  config.policy = Policy::kOverwrite;
  scratch.bus().create_topic("bench.fanout", config);
  SharedBlock<StreamControl> control;
  std::optional<PeerProcess> peer;
  if (subscribers > 0) {
    peer.emplace(ctx.cpus.peer, [&] {
      Bus bus = scratch.open_in_peer();
      std::vector<Subscription> subs;
      for (int i = 0; i < subscribers; ++i) subs.push_back(bus.subscribe("bench.fanout", {StartAt::latest(), WaitStrategy::kSpin}));
      uint64_t sink = 0;
      auto consume = [&](const Message& m) { sink ^= fold_payload(m.payload); };
      control->ready.store(1, std::memory_order_release);  // pairs with wait_ready()
      while (control->stop.load(std::memory_order_relaxed) == 0) {  // relaxed: a stop flag
        if (!reading) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
          continue;
        }
        for (Subscription& s : subs) {
          if (!s.poll(consume, 64)) return 1;
        }
        if (ctx.cpus.shared) sched_yield();
      }
      asm volatile("" : : "r"(sink));
      return 0;
    });
    wait_ready(*control);
  }

  Pinned pin(ctx.cpus.ours);
  Publisher pub = scratch.bus().publisher("bench.fanout");
  const double rate = publish_rate(pub, 64, kWarmupSeconds, ctx.stream_seconds);
  control->stop.store(1, std::memory_order_relaxed);  // relaxed: a stop flag
  if (peer) peer->join();
  return rate;
}

GroupCommit journal_group_commit(BenchContext& ctx, int publishers) {
  ScratchBus scratch(ctx.fresh_bus_path());
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr ? tmp : "/var/tmp") + "/shmbus-bench-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw Error("benchmark: cannot make a directory in " + pattern);
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  } cleanup{pattern};
  TopicConfig config;
  config.kind = TopicKind::kJournal;
  config.data_dir = pattern;
  config.fsync = FsyncPolicy::kAlways;
  scratch.bus().create_topic("bench.durable", config);
  const TopicStats before = scratch.bus().stats("bench.durable");
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> published{0};
  std::vector<std::thread> threads;
  const double start = BenchClock::seconds_now();
  for (int t = 0; t < publishers; ++t) {
    threads.emplace_back([&] {
      Publisher pub = scratch.bus().publisher("bench.durable");
      std::byte payload[64] = {};
      uint64_t n = 0;
      // Relaxed: a stop flag.
      while (!stop.load(std::memory_order_relaxed)) n += pub.publish(std::span<const std::byte>(payload)).has_value();
      published.fetch_add(n, std::memory_order_relaxed);
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(ctx.stream_seconds));
  stop.store(true, std::memory_order_relaxed);
  for (std::thread& t : threads) t.join();
  const double seconds = BenchClock::seconds_now() - start;
  const TopicStats after = scratch.bus().stats("bench.durable");
  const double flushes = static_cast<double>(after.flushes - before.flushes);
  const double messages = static_cast<double>(published.load(std::memory_order_relaxed));
  return {messages / seconds, flushes / seconds, flushes > 0 ? messages / flushes : 0};
}

}  // namespace shmbus::bench
