// Journal topics through the public API: the same publishers and subscribers as memory topics,
// records on segment files that outlive the bus.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <string>
#include <atomic>
#include <thread>
#include <vector>

#include "log/segments/recovery.h"
#include "shmbus/bus.h"
#include "support/test_bus.h"

namespace shmbus {
namespace {

using namespace std::chrono_literals;
using test::TempBus;

TopicConfig journal_config(const std::string& dir = "", uint64_t segment_bytes = 64 * 1024) {
  TopicConfig c;
  c.kind = TopicKind::kJournal;
  c.data_dir = dir;
  c.segment_bytes = segment_bytes;
  return c;
}

std::string payload_for(uint64_t i) { return std::string(8 + (i * 37) % 600, static_cast<char>('a' + i % 26)) + std::to_string(i); }

// Reads everything from `sub` until `count` records or a generous deadline.
std::vector<std::string> read_all(Subscription& sub, uint64_t count) {
  std::vector<std::string> got;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (got.size() < count && std::chrono::steady_clock::now() < deadline) {
    Result<size_t> n = sub.receive([&](const Message& m) { got.emplace_back(m.text()); }, 4096, 100ms);
    EXPECT_TRUE(n) << to_string(n.error());
    if (!n) break;
  }
  return got;
}

// Journal data on disk, as users keep it.
struct TempDir : test::TempDir {
  TempDir() : test::TempDir("/tmp", "journal-topic") {}
};

TEST(JournalTopic, PublishAndSubscribeAcrossManySegments) {
  constexpr uint64_t kCount = 20'000;
  TempBus tb;
  Bus bus = tb.open();
  ASSERT_TRUE(bus.create_topic("audit", journal_config()));
  EXPECT_EQ(bus.stats("audit").kind, TopicKind::kJournal);
  Subscription sub = bus.subscribe("audit", {StartAt::earliest(), WaitStrategy::kBlock});
  Publisher pub = bus.publisher("audit");
  for (uint64_t i = 0; i < kCount; ++i) {
    const std::string index = std::to_string(i);
    const Header h[] = {{"i", index}};
    ASSERT_TRUE(pub.publish(payload_for(i), i % 3 ? std::span<const Header>() : std::span<const Header>(h))) << i;
  }
  std::vector<std::string> got = read_all(sub, kCount);
  ASSERT_EQ(got.size(), kCount);
  for (uint64_t i = 0; i < kCount; ++i) ASSERT_EQ(got[i], payload_for(i)) << i;

  const std::string dir = bus.stats("audit").config.data_dir;
  size_t segments = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) segments += e.path().extension() == ".seg";
  EXPECT_GT(segments, 20u);  // ~6.4 MB in 64 KiB segments
  log::segments::JournalCheck c = log::segments::check_journal(dir, false);
  EXPECT_TRUE(c.healthy()) << (c.problems.empty() ? "" : c.problems[0]);
  EXPECT_EQ(c.records, kCount);
  EXPECT_EQ(c.next_seq, kCount);
}

TEST(JournalTopic, SurvivesLosingTheBusAndContinuesItsSequence) {
  constexpr uint64_t kCount = 5'000;
  TempDir data;
  {
    TempBus tb;  // the bus in /dev/shm goes away at the end of this block, as at a reboot
    Bus bus = tb.open();
    ASSERT_TRUE(bus.create_topic("ledger", journal_config(data.path())));
    Publisher pub = bus.publisher("ledger");
    for (uint64_t i = 0; i < kCount; ++i) ASSERT_TRUE(pub.publish(payload_for(i)));
  }
  TempBus tb;
  Bus bus = tb.open();
  ASSERT_TRUE(bus.create_topic("ledger", journal_config(data.path())));  // finds the segments: recovery
  EXPECT_EQ(bus.stats("ledger").tail_seq, kCount);
  Subscription sub = bus.subscribe("ledger", {StartAt::earliest(), WaitStrategy::kBlock});
  Publisher pub = bus.publisher("ledger");
  ASSERT_TRUE(pub.publish(std::string_view("after the reboot")));
  std::vector<std::string> got = read_all(sub, kCount + 1);
  ASSERT_EQ(got.size(), kCount + 1);
  for (uint64_t i = 0; i < kCount; ++i) ASSERT_EQ(got[i], payload_for(i)) << i;
  EXPECT_EQ(got.back(), "after the reboot");
  EXPECT_EQ(bus.stats("ledger").tail_seq, kCount + 1);
}

TEST(JournalTopic, APublisherKilledMidStreamLeavesARecoverableJournal) {
  TempDir data;
  TempBus tb;
  Bus bus = tb.open();
  ASSERT_TRUE(bus.create_topic("events", journal_config(data.path())));
  pid_t writer = test::spawn([&] {
    Bus b = tb.open();
    Publisher p = b.publisher("events");
    for (uint64_t i = 0;; ++i) {
      if (!p.publish(payload_for(i))) return 1;
    }
  });
  ASSERT_TRUE(test::eventually([&] { return bus.stats("events").tail_seq > 2'000; }));
  ::kill(writer, SIGKILL);
  test::wait_child(writer);
  const uint64_t published = bus.stats("events").tail_seq;

  // A survivor keeps publishing (helping past, or through, whatever the dead writer left).
  Publisher survivor = bus.publisher("events");
  ASSERT_TRUE(survivor.publish(std::string_view("survivor")));
  log::segments::JournalCheck repair = log::segments::check_journal(data.path(), true);  // `shmbus journal recover`
  log::segments::JournalCheck c = log::segments::check_journal(data.path(), false);
  EXPECT_TRUE(c.healthy()) << (c.problems.empty() ? "" : c.problems[0]) << " abandoned " << c.abandoned << " cut "
                           << c.cut_bytes << "; the repair found " << repair.abandoned << " abandoned, "
                           << repair.cut_bytes << " bytes to cut, " << repair.segments << " segments; end "
                           << repair.end_position << " vs " << c.end_position << " next " << repair.next_seq << " vs "
                           << c.next_seq;
  // Every seq handed out is a record or a voided claim: the dead writer's last claim (if it was
  // in flight) was voided by the repair, and the tail had not yet been moved past it.
  EXPECT_EQ(c.next_seq, c.records + c.voided);
  EXPECT_GE(c.next_seq, published + 1);
  EXPECT_LE(c.next_seq, published + 2);
  EXPECT_LE(c.voided, 1u);
  Subscription sub = bus.subscribe("events", {StartAt::earliest(), WaitStrategy::kBlock});
  std::vector<std::string> got = read_all(sub, c.records);
  ASSERT_EQ(got.size(), c.records);
  for (uint64_t i = 0; i + 1 < got.size(); ++i) ASSERT_EQ(got[i], payload_for(i)) << i;
  EXPECT_EQ(got.back(), "survivor");
}

TEST(JournalTopic, BadJournalConfigIsRefused) {
  TempBus tb;
  Bus bus = tb.open();
  try {
    bus.create_topic("j", journal_config("", 100'000));
    FAIL() << "a segment size that is no power of two was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("power of two"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace shmbus

namespace shmbus {
namespace {

TopicConfig fsync_config(const std::string& dir, FsyncPolicy fsync, std::chrono::milliseconds interval = 100ms) {
  TopicConfig c = journal_config(dir);
  c.fsync = fsync;
  c.fsync_interval = interval;
  return c;
}

TEST(JournalFsync, AlwaysReturnsOnlyOnceTheRecordIsFlushed) {
  TempDir data;
  TempBus tb;
  Bus bus = tb.open();
  ASSERT_TRUE(bus.create_topic("durable", fsync_config(data.path(), FsyncPolicy::kAlways)));
  EXPECT_EQ(bus.stats("durable").config.fsync, FsyncPolicy::kAlways);
  Publisher pub = bus.publisher("durable");
  for (uint64_t i = 0; i < 200; ++i) {
    Result<uint64_t> at = pub.publish(payload_for(i));
    ASSERT_TRUE(at) << to_string(at.error());
    ASSERT_GT(bus.stats("durable").flushed_position, *at) << i;  // flushed through the whole frame
  }
  TopicStats s = bus.stats("durable");
  EXPECT_EQ(s.flushed_position, s.tail_position);
  EXPECT_EQ(s.flushed_records, 200u);
  EXPECT_GE(s.flushes, 1u);
}

TEST(JournalFsync, ConcurrentPublishersAllGetDurableRecords) {
  constexpr int kThreads = 8;
  constexpr uint64_t kEach = 300;
  TempDir data;
  TempBus tb;
  Bus bus = tb.open();
  ASSERT_TRUE(bus.create_topic("group", fsync_config(data.path(), FsyncPolicy::kAlways)));
  std::atomic<int> failures{0};
  std::atomic<int> first_error{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      Publisher pub = bus.publisher("group");
      for (uint64_t i = 0; i < kEach; ++i) {
        Result<uint64_t> r = pub.publish(payload_for(i));
        if (!r) {
          failures.fetch_add(1);
          int none = 0;
          first_error.compare_exchange_strong(none, static_cast<int>(r.error()));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0) << to_string(static_cast<Errc>(first_error.load()));
  TopicStats s = bus.stats("group");
  EXPECT_EQ(s.flushed_position, s.tail_position);
  EXPECT_EQ(s.flushed_records, kThreads * kEach);
  EXPECT_LE(s.flushes, kThreads * kEach);  // never more flushes than records: each covers >= 1
  EXPECT_TRUE(log::segments::check_journal(data.path(), false).healthy());
}

TEST(JournalFsync, IntervalFlusherCatchesUpInTheBackground) {
  TempDir data;
  TempBus tb;
  Bus bus = tb.open();
  ASSERT_TRUE(bus.create_topic("lazy", fsync_config(data.path(), FsyncPolicy::kInterval, 20ms)));
  Publisher pub = bus.publisher("lazy");
  for (uint64_t i = 0; i < 1000; ++i) ASSERT_TRUE(pub.publish(payload_for(i)));
  ASSERT_TRUE(test::eventually([&] {
    TopicStats s = bus.stats("lazy");
    return s.flushed_position == s.tail_position && s.flushed_records == 1000;
  }, 10s));
  EXPECT_LT(bus.stats("lazy").flushes, 1000u);  // batched by time, not one per record
}

TEST(JournalFsync, FsyncPoliciesParse) {
  TopicConfig c;
  parse_fsync("interval=250", c);
  EXPECT_EQ(c.fsync, FsyncPolicy::kInterval);
  EXPECT_EQ(c.fsync_interval, 250ms);
  EXPECT_EQ(to_string(c.fsync, c.fsync_interval), "interval=250");
  parse_fsync("always", c);
  EXPECT_EQ(c.fsync, FsyncPolicy::kAlways);
  EXPECT_THROW(parse_fsync("sometimes", c), Error);
  EXPECT_THROW(parse_fsync("interval=", c), Error);
  EXPECT_THROW(parse_fsync("interval=-5", c), Error);
}

}  // namespace
}  // namespace shmbus
