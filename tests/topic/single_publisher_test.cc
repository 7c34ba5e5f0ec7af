// Single-publisher topics: one publisher at a time claims and commits by plain stores. Real
// processes: a second publisher refused, a holder killed with SIGKILL at every protocol step and
// taken over, a stopped holder never unblocked, streams read in order by every wait strategy.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "base/kill_point.h"
#include "base/mapped_file.h"
#include "base/process_identity.h"
#include "topic/topic_meta.h"
#include "shmbus/shmbus.h"
#include "support/shared_memory.h"
#include "support/stamped.h"
#include "support/test_bus.h"

namespace shmbus {
namespace {

using namespace std::chrono_literals;
using test::Stamp;
using test::TempBus;

TopicConfig single(uint64_t capacity = 64 << 10, Policy policy = Policy::kBlock) {
  TopicConfig config = test::ring_config(capacity, policy);
  config.single_publisher = true;
  config.unblock_timeout = 100ms;
  return config;
}

// Receives stamps of publisher 0 until `count` arrived or 60 s passed; false on a gap,
// a duplicate or a damaged payload.
bool receive_in_order(Subscription& sub, uint64_t& next, uint64_t count) {
  bool ok = true;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (next < count && std::chrono::steady_clock::now() < deadline) {
    (void)sub.receive([&](const Message& m) {
      Stamp s{};
      ok &= test::read_stamp(m.payload, s) && s.seq == next;
      next = s.seq + 1;
    }, 256, 20ms);
  }
  return ok && next == count;
}

TEST(SinglePublisher, ASecondPublisherInTheSameProcessIsRefusedUntilTheFirstCloses) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("t", single());
  EXPECT_TRUE(bus.stats("t").config.single_publisher);
  Subscription sub = bus.subscribe("t", {StartAt::earliest()});
  {
    Publisher first = bus.publisher("t");
    ASSERT_TRUE(first.publish(test::bytes_of(test::make_stamp(0, 0))));
    try {
      (void)bus.publisher("t");
      FAIL() << "a second publisher was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInUse);
      EXPECT_NE(std::string(e.what()).find("single publisher"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("(this one)"), std::string::npos) << e.what();
    }
    EXPECT_EQ(bus.stats("t").publishers, 1u) << "the refused publisher took a slot";
  }
  Publisher second = bus.publisher("t");
  ASSERT_TRUE(second.publish(test::bytes_of(test::make_stamp(0, 1))));
  uint64_t next = 0;
  EXPECT_TRUE(receive_in_order(sub, next, 2));
  EXPECT_EQ(bus.stats("t").tail_seq, 2u);
}

TEST(SinglePublisher, AnotherProcessIsRefusedWhileTheHolderLivesAndTakesOverOnceItIsKilled) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("t", single());
  Subscription sub = bus.subscribe("t", {StartAt::earliest()});
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t holder = test::spawn([&] {
    Bus b = Bus::open(tb.path());
    Publisher p = b.publisher("t");
    for (uint64_t i = 0; i < 10; ++i) (void)p.publish(test::bytes_of(test::make_stamp(0, i)));
    char c = 1;
    (void)!::write(ready[1], &c, 1);
    for (;;) ::pause();
    return 0;
  });
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  try {
    (void)bus.publisher("t");
    FAIL() << "a second publisher was accepted while the holder lives";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInUse);
    EXPECT_NE(std::string(e.what()).find(std::to_string(holder)), std::string::npos) << e.what();
  }
  ::kill(holder, SIGKILL);
  EXPECT_EQ(test::wait_child(holder), 128 + SIGKILL);
  Publisher taker = bus.publisher("t");
  for (uint64_t i = 10; i < 20; ++i) ASSERT_TRUE(taker.publish(test::bytes_of(test::make_stamp(0, i))));
  uint64_t next = 0;
  EXPECT_TRUE(receive_in_order(sub, next, 20));
}

// The holder is killed at each step of the claim and the commit, after a random number of
// records; a new publisher takes the topic over. The subscriber gets every committed record in
// order, the dead claim voided (its owner is gone), and the new publisher's records after it.
TEST(SinglePublisher, HolderKilledAtEveryProtocolStepIsTakenOverAndNothingIsLostOrBlocked) {
  const char* const kPoints[] = {"claim.before_tail", "claim.after_tail", "claim.padding", "publish.after_claim",
                                 "publish.before_commit", "commit.before", "commit.after"};
  for (const char* point : kPoints) {
    for (uint64_t countdown : {1u, 7u, 500u}) {
      TempBus tb;
      Bus bus = tb.open();
      bus.create_topic("t", single(4096));  // small: padding at every lap end
      Subscription sub = bus.subscribe("t", {StartAt::earliest(), WaitStrategy::kBlock});
      // The stamp the victim is publishing when it dies, in memory it shares with us. Relaxed:
      // read only after its death, which waitpid() orders before the read.
      test::SharedMemory<std::atomic<uint64_t>> publishing;
      pid_t victim = test::spawn([&] {
        Bus b = Bus::open(tb.path());
        Publisher p = b.publisher("t");
        base::arm_kill_point(point, countdown);
        for (uint64_t i = 0;; ++i) {
          publishing->store(i, std::memory_order_relaxed);
          // Block policy: waits while the parent's subscriber catches up.
          if (!p.publish(test::bytes_of(test::make_stamp(0, i)))) return 3;
        }
        return 0;
      });
      // Read while the victim runs: it waits for space in a 4 KiB ring.
      uint64_t next = 0;
      bool in_order = true;
      auto on_stamp = [&](const Message& m) {
        Stamp s{};
        in_order &= test::read_stamp(m.payload, s) && s.seq == next;
        next = s.seq + 1;
      };
      int status = 0;
      const auto deadline = std::chrono::steady_clock::now() + 60s;
      while (::waitpid(victim, &status, WNOHANG) == 0 && std::chrono::steady_clock::now() < deadline) {
        (void)sub.receive(on_stamp, 256, 5ms);
      }
      ASSERT_TRUE(WIFSIGNALED(status)) << point << " " << countdown;
      // What the victim committed: the stamps before the one it died publishing, and that one
      // too if it died after the commit. (Not stats().published: the victim dies at commit.after
      // before it counts that record.)
      const uint64_t committed_by_victim =
          publishing->load(std::memory_order_relaxed) + (std::string(point) == "commit.after" ? 1 : 0);
      Publisher taker = bus.publisher("t");
      ASSERT_TRUE(taker.publish(test::bytes_of(test::make_stamp(0, committed_by_victim))));
      ASSERT_TRUE(receive_in_order(sub, next, committed_by_victim + 1))
          << point << " countdown " << countdown << ": at " << next << " of " << committed_by_victim + 1;
      EXPECT_TRUE(in_order) << point << " " << countdown;
      const bool left_a_claim = std::string(point) != "claim.before_tail" && std::string(point) != "commit.after";
      EXPECT_EQ(bus.stats("t").unblocked, left_a_claim ? 1u : 0u) << point << " " << countdown;
    }
  }
}

// A stopped holder keeps its claim however long it takes: its plain-store commit could not be
// stopped by a void. Once continued, it commits, and the subscriber reads the record.
TEST(SinglePublisher, AStoppedHoldersClaimIsNeverUnblocked) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("t", single());
  Subscription sub = bus.subscribe("t", {StartAt::earliest(), WaitStrategy::kBlock});
  pid_t stopped = test::spawn([&] {
    Bus b = Bus::open(tb.path());
    Publisher p = b.publisher("t");
    Result<Claim> claim = p.claim(8);
    if (!claim) return 2;
    ::raise(SIGSTOP);
    std::memcpy(claim->payload().data(), "on time!", 8);
    return p.commit(*claim) ? 0 : 1;
  });
  int status = 0;
  ASSERT_EQ(::waitpid(stopped, &status, WUNTRACED), stopped);
  ASSERT_TRUE(WIFSTOPPED(status));
  std::vector<std::string> got;
  auto collect = [&](const Message& m) { got.emplace_back(m.text()); };
  // Five unblock timeouts: nothing arrives, nothing is voided.
  const auto until = std::chrono::steady_clock::now() + 500ms;
  while (std::chrono::steady_clock::now() < until) (void)sub.receive(collect, 16, 20ms);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(bus.stats("t").unblocked, 0u);
  ::kill(stopped, SIGCONT);
  EXPECT_EQ(test::wait_child(stopped), 0) << "the holder's commit must succeed";
  for (auto deadline = std::chrono::steady_clock::now() + 30s; got.empty() && std::chrono::steady_clock::now() < deadline;) {
    (void)sub.receive(collect, 16, 20ms);
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "on time!");
}

// A publisher process streams through a small ring to subscribers in this process, one per wait
// strategy (the sleepers rely on the asymmetric fence: base/asymmetric_fence.h).
TEST(SinglePublisher, StreamsInOrderToEveryWaitStrategyAcrossProcesses) {
  constexpr uint64_t kCount = 200'000;
  for (WaitStrategy wait : {WaitStrategy::kBlock, WaitStrategy::kYield, WaitStrategy::kSpin}) {
    TempBus tb;
    Bus bus = tb.open();
    bus.create_topic("t", single(16 << 10));
    Subscription sub = bus.subscribe("t", {StartAt::earliest(), wait});
    pid_t publisher = test::spawn([&] {
      Bus b = Bus::open(tb.path());
      Publisher p = b.publisher("t");
      for (uint64_t i = 0; i < kCount; ++i) {
        if (!p.publish(test::bytes_of(test::make_stamp(0, i)))) return 1;
      }
      return 0;
    });
    uint64_t next = 0;
    EXPECT_TRUE(receive_in_order(sub, next, kCount)) << "strategy " << static_cast<int>(wait) << " at " << next;
    EXPECT_EQ(test::wait_child(publisher), 0);
  }
}

TEST(SinglePublisher, OverwriteAndJournalTopicsTakeOnePublisherToo) {
  TempBus tb;
  std::optional<Bus> opened = tb.open();
  Bus& bus = *opened;
  bus.create_topic("ring", single(4096, Policy::kOverwrite));
  TopicConfig journal;
  journal.kind = TopicKind::kJournal;
  journal.segment_bytes = 64 << 10;
  journal.single_publisher = true;
  bus.create_topic("journal", journal);
  for (const char* name : {"ring", "journal"}) {
    Subscription sub = bus.subscribe(name, {StartAt::earliest()});
    Publisher p = bus.publisher(name);
    EXPECT_THROW((void)bus.publisher(name), Error) << name;
    // 3000 x 96-byte frames: laps of the ring, segments of the journal.
    for (uint64_t i = 0; i < 3000; ++i) ASSERT_TRUE(p.publish(test::bytes_of(test::make_stamp(0, i))));
    if (std::string(name) == "journal") {
      uint64_t next = 0;
      EXPECT_TRUE(receive_in_order(sub, next, 3000));
    }
    EXPECT_EQ(bus.stats(name).tail_seq, 3000u) << name;
  }
  // The journal reopened after every process is gone continues its seqs.
  opened.reset();
  Bus again = tb.open();
  Publisher p = again.publisher("journal");
  ASSERT_TRUE(p.publish("more"));
  EXPECT_EQ(again.stats("journal").tail_seq, 3001u);
}

// The holder word and the config flag, set directly in the topic's meta: a dead holder's token is
// taken over, a live one's (here: our parent's, a process that certainly lives) refused, and a
// flag no build writes makes the topic damaged, with a message that says so.
TEST(SinglePublisher, HolderWordAndFlagSetDirectlyInTheMeta) {
  TempBus tb;
  std::optional<Bus> bus = tb.open();
  bus->create_topic("t", single());
  const std::string meta_path = tb.path() + "/topics/t/meta";
  auto meta_of = [&](base::MappedFile& file) -> topic::TopicMeta& { return *reinterpret_cast<topic::TopicMeta*>(file.data()); };
  base::MappedFile file = base::MappedFile::open(meta_path, base::Access::kReadWrite);
  topic::TopicMeta& meta = meta_of(file);
  EXPECT_EQ(meta.config.single_publisher, 1u);

  // A child tells us its token, then either exits (dead) or waits to be killed (live).
  auto child_token = [](bool stay, pid_t& pid) {
    int fds[2];
    uint64_t token = 0;
    if (::pipe(fds) != 0) return token;
    pid = test::spawn([&] {
      const uint64_t t = base::self_token();
      if (::write(fds[1], &t, sizeof t) != sizeof t) return 1;
      while (stay) ::pause();
      return 0;
    });
    if (::read(fds[0], &token, sizeof token) != static_cast<ssize_t>(sizeof token)) token = 0;
    ::close(fds[0]);
    ::close(fds[1]);
    return token;
  };
  pid_t dead = 0, live = 0;
  const uint64_t dead_token = child_token(false, dead);
  ASSERT_EQ(test::wait_child(dead), 0);
  meta.counters.single_publisher.store(dead_token, std::memory_order_relaxed);
  { Publisher taken = bus->publisher("t"); }  // a dead holder: taken over
  EXPECT_EQ(meta.counters.single_publisher.load(std::memory_order_relaxed), 0u) << "released on close";

  const uint64_t live_token = child_token(true, live);
  ASSERT_NE(live_token, 0u);
  meta.counters.single_publisher.store(live_token, std::memory_order_relaxed);
  EXPECT_THROW((void)bus->publisher("t"), Error);
  ::kill(live, SIGKILL);
  EXPECT_EQ(test::wait_child(live), 128 + SIGKILL);
  { Publisher taken = bus->publisher("t"); }  // its holder is gone now

  meta.config.single_publisher = 2;
  bus.reset();
  Bus again = tb.open();
  try {
    (void)again.publisher("t");
    FAIL() << "a damaged flag was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("single-publisher flag"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace shmbus
