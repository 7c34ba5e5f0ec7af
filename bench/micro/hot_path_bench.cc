// Single-thread costs of the hot calls (Google Benchmark): what one publish, one zero-copy
// claim/commit and one poll cost when no other core interferes. Cross-process figures come
// from `shmbus bench`.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "scratch_bus.h"
#include "shmbus/shmbus.h"

namespace {

// A throw-away bus (bench/suite/scratch_bus.h) with one topic, "micro", of `policy`.
struct MicroBus : shmbus::bench::ScratchBus {
  explicit MicroBus(shmbus::Policy policy)
      : ScratchBus("/dev/shm/shmbus-micro-" + std::to_string(::getpid())) {
    shmbus::TopicConfig config;
    config.policy = policy;
    bus().create_topic("micro", config);
  }
};

void BM_Publish(benchmark::State& state) {
  MicroBus scratch(shmbus::Policy::kOverwrite);
  shmbus::Bus& bus = scratch.bus();
  shmbus::Publisher pub = bus.publisher("micro");
  std::string payload(static_cast<size_t>(state.range(0)), 'x');
  for (auto _ : state) {
    benchmark::DoNotOptimize(pub.publish(payload));
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Publish)->Arg(8)->Arg(64)->Arg(1024)->Arg(16384);

void BM_ClaimCommit(benchmark::State& state) {
  MicroBus scratch(shmbus::Policy::kOverwrite);
  shmbus::Bus& bus = scratch.bus();
  shmbus::Publisher pub = bus.publisher("micro");
  for (auto _ : state) {
    shmbus::Result<shmbus::Claim> claim = pub.claim(64);
    std::memset(claim->payload().data(), 1, 64);
    benchmark::DoNotOptimize(pub.commit(*claim));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ClaimCommit);

void BM_PublishWithHeaders(benchmark::State& state) {
  MicroBus scratch(shmbus::Policy::kOverwrite);
  shmbus::Bus& bus = scratch.bus();
  shmbus::Publisher pub = bus.publisher("micro");
  const shmbus::Header headers[] = {{"type", "OrderPlaced"}, {"tenant", "acme"}};
  std::string payload(64, 'x');
  for (auto _ : state) {
    benchmark::DoNotOptimize(pub.publish(payload, headers));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PublishWithHeaders);

// Publish then poll it back in one thread, per policy: block pays the subscriber-position
// bookkeeping, overwrite the seqlock copy.
void BM_PublishPoll(benchmark::State& state) {
  const auto policy = static_cast<shmbus::Policy>(state.range(0));
  MicroBus scratch(policy);
  shmbus::Bus& bus = scratch.bus();
  shmbus::Subscription sub = bus.subscribe("micro", {shmbus::StartAt::latest(), shmbus::WaitStrategy::kSpin});
  shmbus::Publisher pub = bus.publisher("micro");
  std::string payload(64, 'x');
  size_t seen = 0;
  for (auto _ : state) {
    (void)pub.publish(payload);
    (void)sub.poll([&](const shmbus::Message& m) { seen += m.payload.size(); }, 1);
  }
  benchmark::DoNotOptimize(seen);
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(shmbus::to_string(policy));
}
BENCHMARK(BM_PublishPoll)
    ->Arg(static_cast<int>(shmbus::Policy::kBlock))
    ->Arg(static_cast<int>(shmbus::Policy::kOverwrite));

}  // namespace

BENCHMARK_MAIN();
