#include "queue_runs.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "child.h"
#include "scratch_bus.h"
#include "shmbus/bus.h"
#include "shmbus/error.h"

namespace shmbus::bench {
namespace {

constexpr int kMaxConsumers = 8;
constexpr double kStartTimeout = 20;  // seconds for every process to open the bus and say ready

struct alignas(64) Counter {
  std::atomic<uint64_t> value{0};
};

struct QueueControl {
  alignas(64) std::atomic<uint32_t> ready{0};
  alignas(64) std::atomic<uint32_t> go{0};
  alignas(64) std::atomic<uint32_t> stop{0};
  alignas(64) std::atomic<uint64_t> published{0};
  alignas(64) std::atomic<uint64_t> failures{0};
  Counter acked[kMaxConsumers];
};

// Reads every 8-byte word of a payload, as a consumer that uses the data must (the same handler
// as the suite's stream, so the plain subscriber and the queue consumer do the same work).
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

// Spins (yielding: the waiters may share a CPU with the one they wait for) until `done()`.
template <class Done>
bool wait_for(Done&& done, double timeout_s) {
  return spin_until(std::forward<Done>(done), true, timeout_s);
}

uint64_t acked_sum(const QueueControl& c, int consumers) {
  uint64_t sum = 0;
  // Relaxed: counters for the rate and the backlog bound; a stale one is a few records off.
  for (int i = 0; i < consumers; ++i) sum += c.acked[i].value.load(std::memory_order_relaxed);
  return sum;
}

// A directory for fsync-always segments on a real disk, removed with it.
class DiskDir {
 public:
  DiskDir() {
    const char* tmp = std::getenv("TMPDIR");
    path_ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/var/tmp") + "/shmbus-qbench-XXXXXX";
    if (::mkdtemp(path_.data()) == nullptr) throw Error("benchmark: cannot make a directory like " + path_);
  }
  ~DiskDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  DiskDir(const DiskDir&) = delete;
  DiskDir& operator=(const DiskDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// fsync always: records a pipelined producer publishes per wait_durable(), and acks a consumer
// makes per sync() (one flush for each batch).
constexpr uint64_t kDurableWindow = 256;

int consumer_body(const ScratchBus& scratch, QueueControl& ctl, int index, const QueueSpec& spec) {
  Bus bus = scratch.open_in_peer();
  Queue queue = bus.queue("work");
  Consumer consumer = queue.consumer({.prefetch = std::max(64u, spec.batch)});
  ctl.ready.fetch_add(1);
  if (!wait_for([&] { return ctl.go.load(std::memory_order_acquire) != 0; }, kStartTimeout)) return 2;
  std::vector<Delivery> held(spec.batch);
  uint64_t acked = 0, sink = 0;
  while (ctl.stop.load(std::memory_order_relaxed) == 0) {  // relaxed: a stop flag
    // The first of a batch may wait (10 ms at most: the stop flag is looked at after it); the
    // rest are taken only if ready now.
    size_t n = 0;
    for (; n < spec.batch; ++n) {
      Result<Delivery> d = n == 0 && !spec.poll_first ? consumer.receive(std::chrono::milliseconds(10)) : consumer.try_receive();
      if (n == 0 && spec.poll_first && !d && d.error() == Errc::kTimeout) d = consumer.receive(std::chrono::milliseconds(10));
      if (!d) {
        if (d.error() == Errc::kTimeout || d.error() == Errc::kHeldLimit) break;
        ctl.failures.fetch_add(1);
        std::fprintf(stderr, "queue consumer %d: receive: %s\n", index, to_string(d.error()));
        return 3;
      }
      held[n] = std::move(*d);
    }
    for (size_t i = 0; i < n; ++i) {
      sink ^= fold_payload(held[i]->payload);
      if (Result<void> r = consumer.ack(held[i]); !r) {
        ctl.failures.fetch_add(1);
        std::fprintf(stderr, "queue consumer %d: ack: %s\n", index, to_string(r.error()));
        return 4;
      }
      held[i] = Delivery{};
      // fsync always: the acks made durable too, a batch per msync (Consumer::sync()).
      if (spec.fsync_always && (acked + 1) % kDurableWindow == 0 && !consumer.sync()) {
        ctl.failures.fetch_add(1);
        return 5;
      }
      // Relaxed: see acked_sum(). Published every 16 acks: the producer reads these lines.
      if ((++acked & 15) == 0) ctl.acked[index].value.store(acked, std::memory_order_relaxed);
    }
  }
  ctl.acked[index].value.store(acked, std::memory_order_relaxed);
  asm volatile("" : : "r"(sink));
  return 0;
}

int producer_body(const ScratchBus& scratch, QueueControl& ctl, const QueueSpec& spec) {
  Bus bus = scratch.open_in_peer();
  const uint64_t backlog = std::min<uint64_t>(100'000, (16u << 20) / spec.payload_bytes);
  auto publish_loop = [&](Publisher& pub, bool bounded) {
    std::vector<std::byte> payload(spec.payload_bytes, std::byte{0x5a});
    uint64_t seq = 0;
    while (ctl.stop.load(std::memory_order_relaxed) == 0) {  // relaxed: a stop flag
      uint64_t last = 0;
      for (int i = 0; i < 16; ++i, ++seq) {
        std::memcpy(payload.data(), &seq, std::min(sizeof seq, payload.size()));
        // fsync always: pipelined, a window of kDurableWindow records per flush (as the RabbitMQ
        // harness keeps its window of unconfirmed publishes), each record durable before it counts.
        Result<uint64_t> at = spec.fsync_always ? pub.publish_pipelined(std::span<const std::byte>(payload))
                                                : pub.publish(std::span<const std::byte>(payload));
        if (!at) {
          ctl.failures.fetch_add(1);
          return false;
        }
        last = *at;
      }
      if (spec.fsync_always && (seq % kDurableWindow) == 0 && !pub.wait_durable(last, std::chrono::seconds(10))) {
        ctl.failures.fetch_add(1);
        return false;
      }
      ctl.published.fetch_add(16, std::memory_order_relaxed);  // relaxed: a counter
      if (!bounded) continue;
      // At most `backlog` records ahead of the acks; then wait until half of it is acked,
      // asleep, so that a consumer sharing our CPU gets it.
      if (seq - acked_sum(ctl, spec.consumers) > backlog) {
        while (ctl.stop.load(std::memory_order_relaxed) == 0 && seq - acked_sum(ctl, spec.consumers) > backlog / 2) {
          std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
      }
    }
    return true;
  };
  if (spec.producers == 1) {
    Publisher pub = bus.publisher("bench.q");
    ctl.ready.fetch_add(1);
    if (!wait_for([&] { return ctl.go.load(std::memory_order_acquire) != 0; }, kStartTimeout)) return 2;
    return publish_loop(pub, true) ? 0 : 4;
  }
  std::vector<Publisher> pubs;
  for (int t = 0; t < spec.producers; ++t) pubs.push_back(bus.publisher("bench.q"));
  ctl.ready.fetch_add(1);
  if (!wait_for([&] { return ctl.go.load(std::memory_order_acquire) != 0; }, kStartTimeout)) return 2;
  std::vector<std::thread> threads;
  std::atomic<bool> ok{true};
  for (Publisher& pub : pubs) {
    threads.emplace_back([&, p = &pub] {
      if (!publish_loop(*p, false)) ok = false;
    });
  }
  for (std::thread& t : threads) t.join();
  return ok ? 0 : 4;
}

}  // namespace

TopicConfig queue_bench_journal() {
  TopicConfig config;
  config.kind = TopicKind::kJournal;
  config.retain_bytes = 4 * (config.segment_bytes + 4096);
  return config;
}

QueueRun queue_throughput(BenchContext& ctx, const QueueSpec& spec) {
  if (spec.consumers < 1 || spec.consumers > kMaxConsumers) throw Error("benchmark: 1 to 8 consumers");
  ScratchBus scratch(ctx.fresh_bus_path());
  std::unique_ptr<DiskDir> disk;
  TopicConfig topic = queue_bench_journal();
  if (spec.fsync_always) {
    disk = std::make_unique<DiskDir>();
    topic.data_dir = disk->path();
    topic.fsync = FsyncPolicy::kAlways;
  }
  scratch.bus().create_topic("bench.q", topic);
  QueueConfig config;
  config.bindings = {"bench.q"};
  scratch.bus().create_queue("work", config);
  SharedBlock<QueueControl> ctl;

  std::vector<std::unique_ptr<Child>> kids;
  for (int i = 0; i < spec.consumers; ++i) {
    // Consumers alternate between the two CPUs, the first on the peer's (the producer's CPU is
    // ours: with one consumer they do not share; with more, the producer mostly sleeps).
    const int cpu = spec.fsync_always || i % 2 == 0 ? ctx.cpus.peer : ctx.cpus.ours;
    kids.push_back(std::make_unique<Child>("queue consumer " + std::to_string(i), cpu,
                                           [&, i] { return consumer_body(scratch, *ctl, i, spec); }));
  }
  // Several producer threads (fsync always) wait for their flushes: left unpinned.
  kids.push_back(std::make_unique<Child>("queue producer", spec.producers == 1 ? ctx.cpus.ours : -1,
                                         [&] { return producer_body(scratch, *ctl, spec); }));
  const auto alive = [&] {
    for (auto& k : kids) {
      if (!k->running()) return false;
    }
    return true;
  };
  const uint32_t everyone = static_cast<uint32_t>(kids.size());
  const bool started = spin_until([&] { return ctl->ready.load() == everyone || !alive(); }, true, kStartTimeout);
  auto finish = [&] {
    ctl->stop.store(1);
    ctl->go.store(1, std::memory_order_release);
    for (auto& k : kids) k->join();
  };
  if (!started || ctl->ready.load() != everyone) {
    finish();
    throw Error("benchmark: the queue's processes did not start");
  }
  ctl->go.store(1, std::memory_order_release);  // pairs with the children's acquire

  auto flushes = [&] { return spec.fsync_always ? scratch.bus().stats("bench.q").flushes : 0; };
  std::this_thread::sleep_for(std::chrono::duration<double>(spec.warmup_s));
  const double t0 = BenchClock::seconds_now();
  const uint64_t a0 = acked_sum(*ctl, spec.consumers), p0 = ctl->published.load(), f0 = flushes();
  // Sliced: a process that fails ends the window early (and the run with its error).
  while (BenchClock::seconds_now() - t0 < spec.seconds && ctl->failures.load() == 0 && alive()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const double t1 = BenchClock::seconds_now();
  const uint64_t a1 = acked_sum(*ctl, spec.consumers), p1 = ctl->published.load(), f1 = flushes();
  finish();
  if (ctl->failures.load() != 0) throw Error("benchmark: a queue consumer or producer failed");
  QueueRun run;
  const double s = t1 - t0;
  run.acked_per_s = static_cast<double>(a1 - a0) / s;
  run.published_per_s = static_cast<double>(p1 - p0) / s;
  if (spec.fsync_always) {
    run.flushes_per_s = static_cast<double>(f1 - f0) / s;
    run.per_flush = f1 > f0 ? static_cast<double>(p1 - p0) / static_cast<double>(f1 - f0) : 0;
  }
  return run;
}

namespace {
struct LatencyControl {
  alignas(64) std::atomic<uint32_t> ready{0};
  alignas(64) std::atomic<uint32_t> stop{0};
  alignas(64) std::atomic<uint64_t> pong{0};  // the number of the record last acked
};
}  // namespace

Percentiles queue_round_trip(BenchContext& ctx, bool spin) {
  ScratchBus scratch(ctx.fresh_bus_path());
  scratch.bus().create_topic("bench.lat", queue_bench_journal());
  QueueConfig config;
  config.bindings = {"bench.lat"};
  scratch.bus().create_queue("lat", config);
  SharedBlock<LatencyControl> ctl;
  const uint64_t rounds = std::max<uint64_t>(1000, ctx.round_trips);
  const uint64_t warmup = rounds / 10, total = warmup + rounds;
  const bool yield = ctx.cpus.shared;

  Child consumer("latency consumer", ctx.cpus.peer, [&] {
    Bus bus = scratch.open_in_peer();
    Queue queue = bus.queue("lat");
    Consumer c = queue.consumer({.prefetch = 1});
    ctl->ready.store(1, std::memory_order_release);
    uint64_t sink = 0;
    for (uint64_t expected = 1; expected <= total;) {
      Result<Delivery> d = spin ? c.try_receive() : c.receive(std::chrono::microseconds(100));
      if (!d) {
        if (d.error() != Errc::kTimeout) return 3;
        if (ctl->stop.load(std::memory_order_relaxed) != 0) return 0;  // relaxed: a stop flag
        if (yield) sched_yield();
        continue;
      }
      sink ^= fold_payload(d->message().payload);
      uint64_t seq = 0;
      std::memcpy(&seq, d->message().payload.data(), sizeof seq);
      if (seq != expected) return 5;
      if (!c.ack(*d)) return 4;
      // Release: pairs with our acquire spin; the ack happened before the pong.
      ctl->pong.store(seq, std::memory_order_release);
      ++expected;
    }
    asm volatile("" : : "r"(sink));
    return 0;
  });

  Pinned pin(ctx.cpus.ours);
  Publisher pub = scratch.bus().publisher("bench.lat");
  if (!spin_until([&] { return ctl->ready.load(std::memory_order_acquire) == 1 || !consumer.running(); }, true, kStartTimeout) ||
      ctl->ready.load() != 1) {
    ctl->stop.store(1);
    consumer.join();
    throw Error("benchmark: the latency consumer did not start");
  }
  std::vector<double> samples;
  samples.reserve(rounds);
  std::byte payload[64] = {};
  for (uint64_t i = 1; i <= total; ++i) {
    const uint64_t t0 = ctx.clock.ticks();
    std::memcpy(payload, &i, sizeof i);
    if (!pub.publish(std::span<const std::byte>(payload))) {
      ctl->stop.store(1);
      consumer.join();
      throw Error("benchmark: publish failed");
    }
    if (!spin_until([&] { return ctl->pong.load(std::memory_order_acquire) == i; }, yield, 10)) {
      ctl->stop.store(1);
      consumer.join();
      throw Error("benchmark: no ack within 10 s (round " + std::to_string(i) + ")");
    }
    const uint64_t t1 = ctx.clock.ticks();
    if (i > warmup) samples.push_back(ctx.clock.to_ns(t1 - t0));
  }
  consumer.join();
  return summarize(samples);
}

}  // namespace shmbus::bench
