// Single-thread costs of the hot calls (Google Benchmark): what one publish, one zero-copy
// claim/commit and one poll cost when no other core interferes. Cross-process figures come
// from `shmbus bench`.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "shmbus/shmbus.h"

namespace {

class ScratchBus {
 public:
  ScratchBus() : path_("/dev/shm/shmbus-micro-" + std::to_string(::getpid())) { std::filesystem::remove_all(path_); }
  ~ScratchBus() { std::filesystem::remove_all(path_); }
  shmbus::Bus open(shmbus::Policy policy) {
    shmbus::Bus bus = shmbus::Bus::open(path_);
    shmbus::TopicConfig config;
    config.policy = policy;
    bus.create_topic("micro", config);
    return bus;
  }

 private:
  std::string path_;
};

void BM_Publish(benchmark::State& state) {
  ScratchBus scratch;
  shmbus::Bus bus = scratch.open(shmbus::Policy::kOverwrite);
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
  ScratchBus scratch;
  shmbus::Bus bus = scratch.open(shmbus::Policy::kOverwrite);
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
  ScratchBus scratch;
  shmbus::Bus bus = scratch.open(shmbus::Policy::kOverwrite);
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
  ScratchBus scratch;
  const auto policy = static_cast<shmbus::Policy>(state.range(0));
  shmbus::Bus bus = scratch.open(policy);
  shmbus::Subscriber sub = bus.subscriber("micro", {shmbus::StartAt::latest(), shmbus::WaitStrategy::kSpin});
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
