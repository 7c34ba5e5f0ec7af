// Real processes killed with SIGKILL at each protocol step, and stopped with SIGSTOP.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "base/kill_point.h"
#include "shmbus/shmbus.h"
#include "support/stamped.h"
#include "support/test_bus.h"

namespace shmbus {
namespace {

using namespace std::chrono_literals;
using test::Stamp;
using test::TempBus;

const char* const kKillPoints[] = {"claim.before_tail", "claim.after_tail", "commit.after",
                                   "publish.after_claim", "publish.before_commit", "commit.before"};

// A publisher process (on the bus at `bus_path`) that claims `payload` bytes on topic t and is
// killed before it commits: its claim is left without a pair (layout 5).
void claim_and_die(const std::string& bus_path, size_t payload) {
  pid_t child = test::spawn([&] {
    Bus b = Bus::open(bus_path);
    Publisher p = b.publisher("t");
    Result<Claim> claim = p.claim(payload);
    if (claim) ::raise(SIGKILL);
    return 2;
  });
  ASSERT_EQ(test::wait_child(child), 128 + SIGKILL);
}

// A publisher process that claims 8 bytes on topic t and stops (SIGSTOP) before it fills and
// commits; once continued, it exits 0 if its commit reports kAbandoned. Returns once it is stopped.
pid_t claim_and_stop(const std::string& bus_path) {
  pid_t child = test::spawn([&] {
    Bus b = Bus::open(bus_path);
    Publisher p = b.publisher("t");
    Result<Claim> claim = p.claim(8);
    if (!claim) return 2;
    ::raise(SIGSTOP);
    std::memcpy(claim->payload().data(), "too late", 8);
    Result<uint64_t> r = p.commit(*claim);
    return r.error() == Errc::kAbandoned ? 0 : 1;
  });
  int status = 0;
  if (::waitpid(child, &status, WUNTRACED) != child || !WIFSTOPPED(status)) ADD_FAILURE() << "the claimer did not stop";
  return child;
}

TEST(Crash, PublisherKilledAtRandomProtocolStepsNeverBlocksTopic) {
  constexpr int kKills = 200;
  const unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937 rng(seed);
  TempBus tb;
  Bus bus = tb.open();
  TopicConfig config = test::ring_config(64 << 10);
  config.unblock_timeout = 1000ms;
  bus.create_topic("t", config);
  Subscription sub = bus.subscribe("t", {StartAt::latest(), WaitStrategy::kBlock});
  Publisher survivor = bus.publisher("t");
  uint64_t survivor_seq = 0;
  uint64_t survivor_next = 0;
  bool in_order = true;
  bool intact = true;
  auto on_message = [&](const Message& m) {
    Stamp s;
    intact &= test::read_stamp(m.payload, s);
    if (s.publisher == 0) in_order &= s.seq == survivor_next++;
  };

  // The survivor and the subscriber share this thread, so the survivor must never wait for space
  // (the subscriber could not drain while it waits): on kWouldBlock it lets the subscriber read.
  auto publish_or_drain = [&](const Stamp& stamp) {
    for (auto until = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < until;) {
      Result<Claim> c = survivor.try_claim(sizeof stamp);
      if (c) {
        std::memcpy(c->payload().data(), &stamp, sizeof stamp);
        return survivor.commit(*c).has_value();
      }
      if (c.error() != Errc::kWouldBlock) return false;
      (void)sub.receive(on_message, 256, 1ms);
    }
    return false;
  };

  for (int kill = 0; kill < kKills; ++kill) {
    const char* point = kKillPoints[rng() % std::size(kKillPoints)];
    const uint64_t countdown = 1 + rng() % 50;
    pid_t victim = test::spawn([&] {
      Bus b = Bus::open(tb.path());
      Publisher p = b.publisher("t");
      base::arm_kill_point(point, countdown);
      for (uint64_t i = 0; i < 100'000'000; ++i) (void)p.publish(test::bytes_of(test::make_stamp(1, i)));
      return 0;  // not reached: the kill point fires first
    });
    // The survivor keeps publishing while the victim runs and dies.
    int status = 0;
    while (::waitpid(victim, &status, WNOHANG) == 0) {
      ASSERT_TRUE(publish_or_drain(test::make_stamp(0, survivor_seq++)));
      (void)sub.poll(on_message, 256);
    }
    ASSERT_TRUE(WIFSIGNALED(status)) << point;
    // After the death, a survivor record must arrive well within the unblock timeout: the dead
    // claim is unblocked at once because its owner is gone.
    ASSERT_TRUE(publish_or_drain(test::make_stamp(0, survivor_seq++)));
    auto deadline = std::chrono::steady_clock::now() + 3s;
    while (survivor_next < survivor_seq && std::chrono::steady_clock::now() < deadline) {
      (void)sub.receive(on_message, 256, 10ms);
    }
    TopicStats st = bus.stats("t");
    ASSERT_EQ(survivor_next, survivor_seq) << "topic blocked after a kill at " << point << " seed " << seed
                                           << " sub at " << sub.position() << " tail " << st.tail_position
                                           << " unblocked " << st.unblocked << " evicted " << st.evicted;
  }

  EXPECT_TRUE(intact);
  EXPECT_TRUE(in_order);
  EXPECT_GT(bus.stats("t").unblocked, 0u);
}

TEST(Crash, KilledSubscriberIsEvictedAndBlockedPublisherResumes) {
  TempBus tb;
  Bus bus = tb.open();
  TopicConfig config = test::ring_config(4096, Policy::kBlock);
  bus.create_topic("t", config);
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t sleeper = test::spawn([&] {
    Bus b = Bus::open(tb.path());
    Subscription s = b.subscribe("t");
    char c = 1;
    (void)!::write(ready[1], &c, 1);
    for (;;) ::pause();  // attached, never reads
    return 0;
  });
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  pid_t publisher = test::spawn([&] {
    Bus b = Bus::open(tb.path());
    Publisher p = b.publisher("t");
    for (int i = 0; i < 1000; ++i) {
      if (!p.publish(std::string(100, 'x'))) return 1;
    }
    return 0;
  });
  ASSERT_TRUE(test::eventually([&] { return bus.stats("t").published > 10; }));
  std::this_thread::sleep_for(100ms);
  EXPECT_LT(bus.stats("t").published, 1000u) << "the publisher should be blocked by the idle subscriber";

  ::kill(sleeper, SIGKILL);
  test::wait_child(sleeper);

  EXPECT_EQ(test::wait_child(publisher, 60s), 0);
  EXPECT_EQ(bus.stats("t").published, 1000u);
  EXPECT_EQ(bus.stats("t").evicted, 1u);
}

// A stalled claimant is unblocked after the topic's timeout whatever the reader's wait strategy
// (kSpin receives poll before they wait: the poll path must unblock too).
void stalled_publisher_is_unblocked(WaitStrategy wait) {
  TempBus tb;
  Bus bus = tb.open();
  TopicConfig config;
  config.unblock_timeout = 300ms;
  bus.create_topic("t", config);
  Subscription sub = bus.subscribe("t", {StartAt::latest(), wait});
  const pid_t stalled = claim_and_stop(tb.path());
  Publisher pub = bus.publisher("t");
  ASSERT_TRUE(pub.publish("after"));

  std::vector<std::string> got;
  auto start = std::chrono::steady_clock::now();
  while (got.empty() && std::chrono::steady_clock::now() - start < 10s) {
    (void)sub.receive([&](const Message& m) { got.emplace_back(m.text()); }, 16, 50ms);
  }
  auto waited = std::chrono::steady_clock::now() - start;
  ::kill(stalled, SIGCONT);

  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "after");
  EXPECT_GE(waited, 250ms) << "a live claimant must be given its timeout";
  EXPECT_EQ(test::wait_child(stalled), 0) << "the late commit must report kAbandoned";
  EXPECT_EQ(bus.stats("t").unblocked, 1u);
}

TEST(Crash, StalledPublisherIsUnblockedAfterTimeoutAndItsCommitIsAbandoned) {
  stalled_publisher_is_unblocked(WaitStrategy::kBlock);
}

TEST(Crash, StalledPublisherIsUnblockedForASpinningReceiverToo) {
  stalled_publisher_is_unblocked(WaitStrategy::kSpin);
}

// Layout 5 claims write no pair until the commit: a claimer killed in between leaves bytes of no
// known length. Two claims in a row, the first killed, the second stalled: the reader bounds both
// by the next record, voids them together after the timeout (k = 2, one seq each), and the
// stalled one's late commit must fail, although its frame start lies inside the void.
TEST(Crash, AKilledAndAStalledClaimInARowAreVoidedTogether) {
  TempBus tb;
  Bus bus = tb.open();
  TopicConfig config;
  config.unblock_timeout = 300ms;
  bus.create_topic("t", config);
  Subscription sub = bus.subscribe("t", {StartAt::latest(), WaitStrategy::kBlock});
  claim_and_die(tb.path(), 100);
  const pid_t stalled = claim_and_stop(tb.path());
  Publisher pub = bus.publisher("t");
  ASSERT_TRUE(pub.publish("after"));

  std::vector<uint64_t> seqs;
  std::vector<std::string> texts;
  auto start = std::chrono::steady_clock::now();
  while (texts.empty() && std::chrono::steady_clock::now() - start < 10s) {
    (void)sub.receive([&](const Message& m) {
      texts.emplace_back(m.text());
      seqs.push_back(m.seq);
    }, 16, 50ms);
  }
  auto waited = std::chrono::steady_clock::now() - start;
  ::kill(stalled, SIGCONT);

  ASSERT_EQ(texts.size(), 1u);
  EXPECT_EQ(texts[0], "after");
  EXPECT_EQ(seqs[0], 2u) << "the two voided claims took seqs 0 and 1";
  EXPECT_GE(waited, 250ms) << "a live claimant among them must be given its timeout";
  EXPECT_EQ(test::wait_child(stalled), 0) << "the late commit must report kAbandoned";
  EXPECT_EQ(bus.stats("t").unblocked, 2u);
  EXPECT_EQ(sub.lost(), 0u);
  // Nothing the stalled claimer wrote shows up later.
  Result<size_t> more = sub.poll([&](const Message& m) { texts.emplace_back(m.text()); }, 16);
  ASSERT_TRUE(more);
  EXPECT_EQ(*more, 0u);
}

// A subscriber that only polls, and rarely, still voids a dead claim within a few of its polls:
// the liveness question is asked by time, not after a number of polls.
TEST(Crash, ASlowPollerVoidsADeadClaimWithinAFewPolls) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("t", test::ring_config(64 << 10, Policy::kBlock));
  Subscription sub = bus.subscribe("t", {StartAt::latest(), WaitStrategy::kSpin});
  claim_and_die(tb.path(), 64);
  Publisher pub = bus.publisher("t");
  ASSERT_TRUE(pub.publish("after"));
  std::vector<std::string> got;
  int polls = 0;
  while (got.empty() && polls < 200) {
    ASSERT_TRUE(sub.poll([&](const Message& m) { got.emplace_back(m.text()); }, 16));
    ++polls;
    if (got.empty()) std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "after");
  // Idle 1 ms, then a claim seen, then voided: three polls apart once the clock is read on
  // each (20 ms apart); 64 polls between clock reads would take more than 128.
  EXPECT_LE(polls, 20);
}

// A claim that does not fit before the end of the lap takes the rest of the lap as padding, and
// writes that padding's pair right after its tail CAS. Killed in between: the next lap's first
// record bounds it with the same seq, so it is voided as plain padding (no seq). If the next
// lap's first claimer is killed too, the bound is the record after it, across the lap end.
void padding_claim_killed_at_the_lap_end(bool next_claim_killed_too) {
  constexpr uint64_t kRing = 8192;
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("t", test::ring_config(kRing, Policy::kBlock));
  Subscription sub = bus.subscribe("t", {StartAt::latest(), WaitStrategy::kBlock});
  Publisher pub = bus.publisher("t");
  uint64_t received = 0, last_seq = 0;
  auto count = [&](const Message& m) {
    ++received;
    last_seq = m.seq;
  };
  std::string filler(100, 'f');
  while (kRing - bus.stats("t").tail_position > 1000) {
    ASSERT_TRUE(pub.publish(filler));
    ASSERT_TRUE(sub.poll(count, 16));
  }
  pid_t padder = test::spawn([&] {
    Bus b = Bus::open(tb.path());
    Publisher p = b.publisher("t");
    base::arm_kill_point("claim.padding", 1);
    (void)p.publish(std::string(1000, 'p'));
    return 2;  // not reached
  });
  ASSERT_EQ(test::wait_child(padder), 128 + SIGKILL);
  ASSERT_EQ(bus.stats("t").tail_position, kRing) << "the padding claim moved the tail to the lap end";
  if (next_claim_killed_too) claim_and_die(tb.path(), 200);
  ASSERT_TRUE(pub.publish("after"));
  const uint64_t before = received;
  ASSERT_TRUE(test::eventually([&] {
    (void)sub.receive(count, 16, 20ms);
    return received > before;
  }, 10s));
  EXPECT_EQ(received, before + 1);
  const uint64_t dead_seqs = next_claim_killed_too ? 1 : 0;
  EXPECT_EQ(last_seq, before + dead_seqs) << "padding takes no seq, a record's claim one";
  EXPECT_EQ(bus.stats("t").unblocked, 1u);
  EXPECT_EQ(sub.lost(), 0u);
}

// A subscriber that starts at the earliest position does not know its seq: if a dead claim is
// there (no pair to read it from), it goes on at the record after it.
TEST(Crash, ASubscriberStartingAtADeadClaimGoesOnAtTheNextRecord) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("t", test::ring_config(8192, Policy::kOverwrite));
  claim_and_die(tb.path(), 64);
  Publisher pub = bus.publisher("t");
  ASSERT_TRUE(pub.publish("after"));
  Subscription sub = bus.subscribe("t", {StartAt::earliest(), WaitStrategy::kBlock});
  EXPECT_EQ(sub.position(), 0u);
  std::vector<std::string> got;
  ASSERT_TRUE(test::eventually([&] {
    (void)sub.receive([&](const Message& m) { got.emplace_back(m.text()); }, 16, 20ms);
    return !got.empty();
  }, 10s));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "after");
  EXPECT_EQ(sub.lost(), 0u);
}

TEST(Crash, APaddingClaimKilledAtTheLapEndIsVoidedWithoutASeq) { padding_claim_killed_at_the_lap_end(false); }

TEST(Crash, APaddingClaimAndTheNextLapsFirstClaimKilledAreVoidedTogether) {
  padding_claim_killed_at_the_lap_end(true);
}

}  // namespace
}  // namespace shmbus
