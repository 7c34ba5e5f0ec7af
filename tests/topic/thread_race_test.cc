// Publishers and subscribers as threads of one process: the race tests that ThreadSanitizer
// checks (tools/test.sh runs them in a TSan build; forked processes are beyond its sight).
#include <optional>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "shmbus/bus.h"
#include "support/stamped.h"
#include "support/test_bus.h"

namespace shmbus {
namespace {

using namespace std::chrono_literals;
using test::Stamp;
using test::TempBus;

constexpr uint32_t kPublishers = 3;

struct ReaderTally {
  uint64_t total = 0;
  bool intact = true;
  bool in_order = true;
  std::optional<Errc> error;
  std::vector<uint64_t> next = std::vector<uint64_t>(kPublishers, 0);
  uint64_t lost = 0;
};

// Reads until the publishers are done and the tail is reached, checking each publisher's order.
void read_stamps(Bus& bus, Subscription& sub, const std::atomic<bool>& publishers_done, ReaderTally& tally) {
  auto deadline = std::chrono::steady_clock::now() + 120s;
  while (std::chrono::steady_clock::now() < deadline) {
    // Acquire: pairs with the release store after the publisher threads joined.
    if (publishers_done.load(std::memory_order_acquire) && sub.position() == bus.stats("threads").tail_position) break;
    Result<size_t> n = sub.receive([&](const Message& m) {
      Stamp s;
      if (!test::read_stamp(m.payload, s) || s.publisher >= kPublishers) {
        tally.intact = false;
        return;
      }
      // Lossless topics: exactly the next one. Overwrite: never backwards.
      tally.in_order = tally.in_order && s.seq >= tally.next[s.publisher];
      tally.next[s.publisher] = s.seq + 1;
      ++tally.total;
    }, 256, 10ms);
    if (!n) tally.error = n.error();
  }
  tally.lost = sub.lost();
}

// Counts failed publishes; `abandoned` those that a lapping overwrite publisher took from a
// descheduled one (they consumed a sequence number, so readers count them as lost).
void publish_stamps(Bus& bus, const char* topic, uint32_t id, uint64_t count, bool with_aborts,
                    std::atomic<int>& failures, std::atomic<int>& abandoned) {
  Publisher pub = bus.publisher(topic);
  auto count_failure = [&](Errc e) { (e == Errc::kAbandoned ? abandoned : failures).fetch_add(1); };
  for (uint64_t i = 0; i < count; ++i) {
    // Every tenth record goes through claim/commit, every 97th is claimed and aborted first.
    Stamp s = test::make_stamp(id, i);
    if (with_aborts && i % 97 == 0) {
      Result<Claim> dropped = pub.claim(sizeof s);
      if (!dropped) failures.fetch_add(1);
      else pub.abort(*dropped);
    }
    if (i % 10 == 0) {
      Result<Claim> c = pub.claim(sizeof s);
      if (!c) {
        failures.fetch_add(1);
        continue;
      }
      std::memcpy(c->payload().data(), &s, sizeof s);
      Result<uint64_t> r = pub.commit(*c);
      if (!r) count_failure(r.error());
    } else if (Result<uint64_t> r = pub.publish(test::bytes_of(s)); !r) {
      count_failure(r.error());
    }
  }
}

// `single`: a single-publisher topic (plain-store claims and commits), written by one thread.
void run_threads(Policy policy, uint64_t per_publisher, int readers, bool single = false) {
  const uint32_t publishers = single ? 1 : kPublishers;
  TempBus tb;
  Bus bus = tb.open();
  TopicConfig config = test::ring_config(64 << 10, policy);
  config.single_publisher = single;
  bus.create_topic("threads", config);
  std::vector<Subscription> subs;
  for (int i = 0; i < readers; ++i) subs.push_back(bus.subscribe("threads", {StartAt::latest(), WaitStrategy::kBlock}));
  std::vector<ReaderTally> tallies(readers);
  std::atomic<int> failures{0}, abandoned{0};
  std::atomic<bool> publishers_done{false};
  std::vector<std::thread> readers_threads, publisher_threads;
  for (int i = 0; i < readers; ++i) {
    readers_threads.emplace_back([&, i] { read_stamps(bus, subs[i], publishers_done, tallies[i]); });
  }
  for (uint32_t p = 0; p < publishers; ++p) {
    // Aborts only under block: in a lapped range an aborted claim would count as lost (lost()).
    publisher_threads.emplace_back([&, p] { publish_stamps(bus, "threads", p, per_publisher, policy == Policy::kBlock, failures, abandoned); });
  }
  for (std::thread& t : publisher_threads) t.join();
  publishers_done.store(true, std::memory_order_release);  // pairs with read_stamps()
  for (std::thread& t : readers_threads) t.join();

  EXPECT_EQ(failures.load(), 0);
  if (policy == Policy::kBlock) {
    EXPECT_EQ(abandoned.load(), 0);
  }
  for (const ReaderTally& t : tallies) {
    EXPECT_FALSE(t.error.has_value()) << to_string(*t.error);
    EXPECT_TRUE(t.intact);
    EXPECT_TRUE(t.in_order);
    if (policy == Policy::kOverwrite) {
      // Every sequence number handed out is accounted for exactly: received or lost. A claim
      // abandoned by a publisher descheduled for a whole lap may hold one too (lost()).
      EXPECT_EQ(t.total + t.lost, bus.stats("threads").tail_seq);
      EXPECT_GE(t.total + t.lost, publishers * per_publisher - abandoned.load());
    } else {
      EXPECT_EQ(t.total, publishers * per_publisher);
      EXPECT_EQ(t.lost, 0u);
      for (uint32_t p = 0; p < publishers; ++p) EXPECT_EQ(t.next[p], per_publisher);
    }
  }
}

TEST(ThreadRace, BlockPolicyEveryReaderGetsEveryRecordInOrder) { run_threads(Policy::kBlock, 50'000, 2); }

TEST(ThreadRace, OverwritePolicyReadersCountExactlyWhatTheyLost) { run_threads(Policy::kOverwrite, 50'000, 2); }

TEST(ThreadRace, SinglePublisherTopicEveryReaderGetsEveryRecordInOrder) { run_threads(Policy::kBlock, 150'000, 2, true); }

TEST(ThreadRace, PatternSubscriberSeesTopicsCreatedByAnotherThread) {
  TempBus tb;
  Bus bus = tb.open();
  Subscription sub = bus.subscribe("race.#", {StartAt::earliest(), WaitStrategy::kBlock});
  constexpr int kTopics = 8;
  std::thread creator([&] {
    for (int i = 0; i < kTopics; ++i) {
      Publisher pub = bus.publisher("race.t" + std::to_string(i));
      ASSERT_TRUE(pub.publish(std::string_view("hello")));
    }
  });
  int seen = 0;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (seen < kTopics && std::chrono::steady_clock::now() < deadline) {
    Result<size_t> n = sub.receive([&](const Message& m) { seen += m.text() == "hello"; }, 16, 50ms);
    ASSERT_TRUE(n) << to_string(n.error());
  }
  creator.join();
  EXPECT_EQ(seen, kTopics);
}

}  // namespace
}  // namespace shmbus
