// How the claim/commit protocol's touches of the watched cache line cost latency, measured
// without the rest of shmbus: a 64-byte payload behind a 32-byte header (two cache lines) goes
// back and forth between two pinned processes through a ring, written by each protocol below,
// while the reader spins on the frame's first word as shmbus readers do. Every protocol runs
// once per repetition, interleaved, so the host's speed changes hit all of them alike.
//
//   shmbus_protocol_probe [repetitions=5] [round_trips=200000]
//
// Prints, per protocol, the median over repetitions of the one-way p50 and of its ratio to the
// one-line floor measured in the same repetition. Results and their reading: bench/RESULTS.md.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "bench_clock.h"
#include "percentiles.h"
#include "process_pair.h"

namespace shmbus::bench {
namespace {

constexpr size_t kFrame = 96;                                // 32-byte header + 64-byte payload
constexpr size_t kRingBytes = 64 * 1024;                     // records move through memory, as in a ring
constexpr size_t kRingFrames = kRingBytes / kFrame;          // frames per lap
constexpr uint64_t kType = 1ull << 32;                       // "DATA" in the word, as in record_format.h
__extension__ typedef unsigned __int128 U128;

enum class Protocol {
  kFloorOneLine,    // payload in the word's line, then the word (the floor)
  kOneTouch,        // fill both lines, then store the word: a claim that never touches the frame
  kLayout4,         // shmbus today: CAS16 of the claim pair, fill, CAS8 of the commit word
  kLayout4Gap,      // the same with ~30 ns of other work between claim and fill (clock, checks)
  kTailClaim,       // CAS16 of a tail on its own line, ~30 ns of work, fill, CAS16 of the pair
  kAeron,           // store the word as "claimed", fill, store it as committed (plain stores)
  kAeronGap,        // tail CAS16, store "claimed", ~30 ns of work, fill, CAS8 commit
};
constexpr Protocol kProtocols[] = {Protocol::kFloorOneLine, Protocol::kOneTouch, Protocol::kLayout4,
                                   Protocol::kLayout4Gap, Protocol::kTailClaim, Protocol::kAeron, Protocol::kAeronGap};

const char* name_of(Protocol p) {
  switch (p) {
    case Protocol::kFloorOneLine: return "floor: one line, word stored last";
    case Protocol::kOneTouch: return "two lines, word stored last (one touch)";
    case Protocol::kLayout4: return "layout 4: CAS16 claim, fill, CAS8 commit";
    case Protocol::kLayout4Gap: return "layout 4 + 30 ns between claim and fill";
    case Protocol::kTailClaim: return "tail CAS16 + 30 ns, fill, CAS16 commit";
    case Protocol::kAeron: return "store -len, fill, store +len (Aeron)";
    case Protocol::kAeronGap: return "tail CAS16, store -len, 30 ns, fill, CAS8 +len";
  }
  return "";
}

struct alignas(4096) Direction {
  std::byte ring[kRingBytes];
  alignas(128) std::atomic<uint64_t> tail_position{0};
  std::atomic<uint64_t> tail_seq{0};
};
struct Channel {
  Direction ping, pong;
};

std::atomic_ref<uint64_t> word_at(std::byte* frame, size_t offset = 0) {
  return std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(frame + offset));
}
bool cas16(void* at, U128 expected, U128 desired) {
  return __sync_bool_compare_and_swap(static_cast<U128*>(at), expected, desired);
}
// The committed word of message `i`: a length and an epoch that differ from every earlier lap's.
uint64_t committed_word(uint64_t i) { return kFrame | kType | (i / kRingFrames + 1) << 48; }
uint64_t claimed_word(uint64_t i) { return static_cast<uint32_t>(-static_cast<int32_t>(kFrame)) | kType | (i / kRingFrames + 1) << 48; }
std::byte* frame_of(Direction& d, uint64_t i) { return d.ring + (i % kRingFrames) * kFrame; }

// Stands for what a publisher does between taking its claim and filling it (~30 ns here).
void other_work() {
  for (int k = 0; k < 30; ++k) asm volatile("" ::: "memory");
  const uint64_t t = __rdtsc();
  asm volatile("" : : "r"(t));
}

void prefetch_for_write(std::byte* f) {
  asm volatile("prefetchw %0" : : "m"(*f));
  asm volatile("prefetchw %0" : : "m"(*(f + 64)));
}

void send(Protocol p, Direction& d, uint64_t i, const std::byte* payload) {
  std::byte* f = frame_of(d, i);
  prefetch_for_write(f);
  switch (p) {
    case Protocol::kFloorOneLine:
      std::memcpy(f + 8, payload, 56);
      word_at(f).store(committed_word(i), std::memory_order_release);
      return;
    case Protocol::kOneTouch:
      word_at(f, 8).store(i, std::memory_order_relaxed);
      std::memcpy(f + 32, payload, 64);
      word_at(f).store(committed_word(i), std::memory_order_release);
      return;
    case Protocol::kLayout4:
    case Protocol::kLayout4Gap: {
      const U128 seen = *reinterpret_cast<volatile U128*>(f);
      cas16(f, seen, static_cast<U128>(i) << 64 | claimed_word(i));
      if (p == Protocol::kLayout4Gap) other_work();
      std::memcpy(f + 32, payload, 64);
      uint64_t expected = claimed_word(i);
      word_at(f).compare_exchange_strong(expected, committed_word(i), std::memory_order_seq_cst);
      return;
    }
    case Protocol::kTailClaim: {
      const uint64_t position = d.tail_position.load(std::memory_order_relaxed);
      cas16(&d.tail_position, static_cast<U128>(i - 1) << 64 | position, static_cast<U128>(i) << 64 | (position + kFrame));
      other_work();
      std::memcpy(f + 32, payload, 64);
      const U128 leftovers = *reinterpret_cast<volatile U128*>(f);
      cas16(f, leftovers, static_cast<U128>(i) << 64 | committed_word(i));
      return;
    }
    case Protocol::kAeron:
      word_at(f, 8).store(i, std::memory_order_relaxed);
      word_at(f).store(claimed_word(i), std::memory_order_release);
      std::memcpy(f + 32, payload, 64);
      word_at(f).store(committed_word(i), std::memory_order_release);
      return;
    case Protocol::kAeronGap: {
      const uint64_t position = d.tail_position.load(std::memory_order_relaxed);
      cas16(&d.tail_position, static_cast<U128>(i - 1) << 64 | position, static_cast<U128>(i) << 64 | (position + kFrame));
      word_at(f, 8).store(i, std::memory_order_relaxed);
      word_at(f).store(claimed_word(i), std::memory_order_release);
      other_work();
      std::memcpy(f + 32, payload, 64);
      uint64_t expected = claimed_word(i);
      word_at(f).compare_exchange_strong(expected, committed_word(i), std::memory_order_seq_cst);
      return;
    }
  }
}

void receive(Protocol p, Direction& d, uint64_t i, std::byte* out) {
  std::byte* f = frame_of(d, i);
  const bool one_line = p == Protocol::kFloorOneLine;
  if (!one_line) __builtin_prefetch(f + 64, 0, 3);  // as shmbus readers do at the tail
  // Acquire: pairs with the writer's release store / CAS of the word.
  while (word_at(f).load(std::memory_order_acquire) != committed_word(i) ||
         (!one_line && word_at(f, 8).load(std::memory_order_relaxed) != i)) {
  }
  std::memcpy(out, f + (one_line ? 8 : 32), one_line ? 56 : 64);
}

double one_way_p50(Protocol p, const CpuPair& cpus, const BenchClock& clock, uint64_t round_trips) {
  SharedBlock<Channel> channel;
  const uint64_t warmup = round_trips / 10, total = warmup + round_trips;
  PeerProcess peer(cpus.peer, [&] {
    std::byte buffer[64];
    for (uint64_t i = 1; i <= total; ++i) {
      receive(p, channel->ping, i, buffer);
      send(p, channel->pong, i, buffer);
    }
    return 0;
  });
  Pinned pin(cpus.ours);
  std::vector<double> samples;
  samples.reserve(round_trips);
  std::byte buffer[64] = {};
  for (uint64_t i = 1; i <= total; ++i) {
    const uint64_t t0 = clock.ticks();
    std::memcpy(buffer, &i, sizeof i);
    send(p, channel->ping, i, buffer);
    receive(p, channel->pong, i, buffer);
    if (i > warmup) samples.push_back(clock.to_ns(clock.ticks() - t0) / 2);
  }
  peer.join();
  return summarize(samples).p50;
}

}  // namespace
}  // namespace shmbus::bench

int main(int argc, char** argv) {
  using namespace shmbus::bench;
  const int repetitions = argc > 1 ? std::atoi(argv[1]) : 5;
  const uint64_t round_trips = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 200'000;
  const CpuPair cpus = CpuPair::detect();
  if (cpus.shared) {
    std::fprintf(stderr, "needs two CPUs: the reader spins\n");
    return 2;
  }
  const BenchClock clock;
  constexpr size_t kCount = std::size(kProtocols);
  std::vector<double> p50[kCount], ratio[kCount];
  for (int rep = 0; rep < repetitions; ++rep) {
    double floor = 0;
    for (size_t k = 0; k < kCount; ++k) {
      const double v = one_way_p50(kProtocols[k], cpus, clock, round_trips);
      if (k == 0) floor = v;
      p50[k].push_back(v);
      ratio[k].push_back(v / floor);
    }
  }
  std::printf("| protocol (64 B payload, one-way) | p50 ns | p50 / floor | spread of p50 |\n|---|---:|---:|---:|\n");
  for (size_t k = 0; k < kCount; ++k) {
    const Spread s = spread_of(p50[k]);
    std::printf("| %s | %.0f | %.2f | %.0f – %.0f |\n", name_of(kProtocols[k]), s.median, spread_of(ratio[k]).median, s.min,
                s.max);
  }
  return 0;
}
