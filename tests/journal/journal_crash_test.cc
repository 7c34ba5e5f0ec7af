// Journal topics under kill -9, in real processes: a publisher killed while writing, 200 times,
// each time followed by what a restart does (the bus is gone, the journal is recovered from
// disk) and a full verify; and a named-cursor consumer killed and restarted until it is through.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <optional>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>

#include "shmbus/bus.h"
#include "shmbus/journal.h"
#include "support/shared_memory.h"
#include "support/test_bus.h"

namespace shmbus {
namespace {

using namespace std::chrono_literals;

using test::SharedMemory;

TopicConfig journal_config(const std::string& dir, uint64_t retain_bytes = 0) {
  TopicConfig c;
  c.kind = TopicKind::kJournal;
  c.data_dir = dir;
  c.segment_bytes = 64 * 1024;  // many segment changes: kills land in them too
  c.retain_bytes = retain_bytes;
  return c;
}

// Record `id`: its id, then filler of an id-dependent length, then a checksum of both.
std::string record_for(uint64_t id) {
  std::string r(8 + (id * 29) % 120, '\0');
  std::memcpy(r.data(), &id, 8);
  for (size_t i = 8; i < r.size(); ++i) r[i] = static_cast<char>('a' + (id + i) % 26);
  const uint64_t sum = test::fnv1a(r.data(), r.size());
  r.append(reinterpret_cast<const char*>(&sum), 8);
  return r;
}

// The id of an intact record, or nothing.
std::optional<uint64_t> id_of(std::string_view r) {
  if (r.size() < 16) return std::nullopt;
  uint64_t id, sum;
  std::memcpy(&id, r.data(), 8);
  std::memcpy(&sum, r.data() + r.size() - 8, 8);
  if (test::fnv1a(r.data(), r.size() - 8) != sum || r != record_for(id)) return std::nullopt;
  return id;
}

struct PublisherProgress {
  std::atomic<uint64_t> started;  // the child is about to publish its first record
  std::atomic<uint64_t> acked;    // records whose publish() returned: ids [0, acked)
};

TEST(JournalCrash, PublisherKilled200TimesLosesNoAcknowledgedRecord) {
  constexpr int kKills = 200;
  constexpr uint64_t kMaxPerChild = 2'000;  // ~250 KB a round
  constexpr uint64_t kRetain = 8 * (64 * 1024 + 4096);
  test::TempDir data("/tmp", "journal-crash", true);
  SharedMemory<PublisherProgress> progress;
  std::mt19937_64 rng(20261125);
  uint64_t next_id = 0;         // the first id not yet found in the journal
  uint64_t verified_end = 0;    // position after the last record checked
  int killed_while_writing = 0;
  for (int round = 0; round < kKills; ++round) {
    test::TempBus tb;  // a fresh bus each round: the restart after a crash finds only the disk
    {
      Bus bus = tb.open();
      // Retention keeps 8 segments (more than a round writes) and recycles the rest: kills and
      // recoveries meet segments that hold an older segment's bytes.
      ASSERT_TRUE(bus.create_topic("ledger", journal_config(data.path(), kRetain)));  // recovery
      const JournalReport check = check_journal(data.path(), /*repair=*/false);  // `shmbus journal verify`
      ASSERT_TRUE(check.healthy()) << "round " << round << ": " << (check.problems.empty() ? "" : check.problems[0])
                                   << " abandoned " << check.abandoned << " cut " << check.cut_bytes;
      // Every acknowledged record since the last round is there once, intact, in order; the
      // one in flight when the child died may be there too (then intact), nothing else.
      const uint64_t acked = progress->acked.load(std::memory_order_acquire);
      Subscription sub = bus.subscribe("ledger", {StartAt::at(verified_end)});
      bool intact = true;
      Result<size_t> n = 0;
      do {
        n = sub.poll([&](const Message& m) {
          std::optional<uint64_t> id = id_of(m.text());
          if (!id || *id != next_id) intact = false;
          ++next_id;
        });
        ASSERT_TRUE(n) << to_string(n.error());
      } while (*n != 0);
      ASSERT_TRUE(intact) << "round " << round << ": a record is damaged, missing, duplicated or out of order";
      ASSERT_GE(next_id, acked) << "round " << round << ": an acknowledged record is missing";
      ASSERT_LE(next_id, acked + 1) << "round " << round;
      verified_end = sub.position();
      ASSERT_EQ(verified_end, bus.stats("ledger").tail_position);
    }
    progress->started.store(0, std::memory_order_relaxed);
    progress->acked.store(next_id, std::memory_order_release);
    const uint64_t first = next_id;
    pid_t child = test::spawn([&] {
      Bus bus = tb.open();
      Publisher pub = bus.publisher("ledger");
      progress->started.store(1, std::memory_order_release);
      for (uint64_t id = first; id < first + kMaxPerChild; ++id) {
        if (!pub.publish(record_for(id))) return 1;
        // Release: the record is in the journal before we say so.
        progress->acked.store(id + 1, std::memory_order_release);
        if (id % 16 == 0) std::this_thread::sleep_for(50us);  // ~10 ms of writing for the kill to land in
      }
      ::pause();  // wait for the kill
      return 0;
    });
    ASSERT_TRUE(test::eventually([&] { return progress->started.load(std::memory_order_acquire) == 1; }));
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 6000));
    ::kill(child, SIGKILL);
    EXPECT_EQ(test::wait_child(child), 128 + SIGKILL);
    killed_while_writing += progress->acked.load(std::memory_order_acquire) < first + kMaxPerChild;
  }
  {
    test::TempBus tb;
    Bus bus = tb.open();
    ASSERT_TRUE(bus.create_topic("ledger", journal_config(data.path(), kRetain)));
    EXPECT_GT(bus.stats("ledger").first_position, 0u) << "retention never ran: no segment was recycled";
  }
  EXPECT_GT(killed_while_writing, kKills / 4) << "the kills should mostly land while writing";
  std::cout << "[          ] " << killed_while_writing << " of " << kKills << " kills landed while writing; "
            << next_id << " records\n";
}

struct ConsumerLog {
  std::atomic<uint64_t> count;  // entries written: ids as the consumer received them
  std::atomic<uint64_t> done;   // the consumer saw the last record
};

// A claimer killed before its commit leaves a hole in a segment (its pair never written). A live
// subscriber bounds it by the next record and voids it through the segment file; the flusher
// gets past it, and the journal on disk verifies healthy with the void in it.
TEST(JournalCrash, AHoleLeftByAKilledClaimerIsVoidedLiveAndVerifies) {
  test::TempBus tb;
  test::TempDir data("/tmp", "journal-hole", true);
  Bus bus = tb.open();
  TopicConfig config = journal_config(data.path());
  config.fsync = FsyncPolicy::kInterval;
  config.fsync_interval = 10ms;
  ASSERT_TRUE(bus.create_topic("ledger", config));
  Subscription sub = bus.subscribe("ledger", {StartAt::latest(), WaitStrategy::kBlock});
  Publisher pub = bus.publisher("ledger");
  ASSERT_TRUE(pub.publish("before"));
  pid_t killed = test::spawn([&] {
    Bus b = Bus::open(tb.path());
    Publisher p = b.publisher("ledger");
    Result<Claim> claim = p.claim(100);
    if (!claim) return 2;
    std::memset(claim->payload().data(), 0x5a, 50);  // half-way through its payload
    ::raise(SIGKILL);
    return 3;
  });
  ASSERT_EQ(test::wait_child(killed), 128 + SIGKILL);
  ASSERT_TRUE(pub.publish("after"));

  std::vector<std::string> got;
  ASSERT_TRUE(test::eventually([&] {
    (void)sub.receive([&](const Message& m) { got.emplace_back(m.text()); }, 16, 20ms);
    return got.size() >= 2;
  }, 10s));
  EXPECT_EQ(got, (std::vector<std::string>{"before", "after"}));
  EXPECT_EQ(bus.stats("ledger").unblocked, 1u);
  // The flusher walks past the void (it reads pairs by seq), so the journal's flushed position
  // reaches the tail.
  ASSERT_TRUE(test::eventually([&] {
    const TopicStats st = bus.stats("ledger");
    return st.flushed_position == st.tail_position;
  }, 10s));
  const JournalReport report = check_journal(data.path(), false);
  EXPECT_TRUE(report.healthy()) << (report.problems.empty() ? "" : report.problems[0]);
  EXPECT_EQ(report.records, 2u);
  EXPECT_EQ(report.voided, 1u);
}

TEST(JournalCrash, CursorConsumerKilledAndRestartedNeverSkipsARecord) {
  constexpr uint64_t kRecords = 30'000;
  constexpr int kKills = 60;
  constexpr size_t kLogEntries = kRecords * 3;
  test::TempBus tb;
  Bus bus = tb.open();
  ASSERT_TRUE(bus.create_topic("orders", journal_config("")));
  Publisher pub = bus.publisher("orders");
  for (uint64_t id = 0; id < kRecords / 2; ++id) ASSERT_TRUE(pub.publish(record_for(id)));
  SharedMemory<ConsumerLog> log;
  SharedMemory<uint64_t> ids(kLogEntries);
  auto consumer = [&] {
    Bus b = tb.open();
    SubscribeOptions o{StartAt::earliest()};
    o.cursor = "billing";  // auto commit after each poll batch
    Subscription sub = b.subscribe("orders", o);
    for (;;) {
      Result<size_t> n = sub.receive(
          [&](const Message& m) {
            std::optional<uint64_t> id = id_of(m.text());
            const uint64_t at = log->count.load(std::memory_order_relaxed);
            if (at < kLogEntries) ids.get()[at] = id ? *id : ~0ull;
            // Release: the entry before the count that shows it.
            log->count.store(at + 1, std::memory_order_release);
            if (id == kRecords - 1) log->done.store(1, std::memory_order_release);
            if (at % 16 == 0) std::this_thread::sleep_for(100us);  // a consumer that works: kills land mid-stream
          },
          64, 100ms);
      if (!n) return 1;
      if (log->done.load(std::memory_order_acquire) != 0) return 0;
    }
  };
  std::mt19937_64 rng(7);
  // The rest is published while the consumer is killed and restarted.
  std::thread producer([&] {
    for (uint64_t id = kRecords / 2; id < kRecords; ++id) {
      ASSERT_TRUE(pub.publish(record_for(id)));
      if (id % 256 == 0) std::this_thread::sleep_for(1ms);
    }
  });
  int killed = 0;
  for (int kill = 0; kill < kKills && log->done.load(std::memory_order_acquire) == 0; ++kill) {
    pid_t child = test::spawn(consumer);
    std::this_thread::sleep_for(std::chrono::microseconds(2'000 + rng() % 8'000));
    ::kill(child, SIGKILL);
    killed += test::wait_child(child) == 128 + SIGKILL;
  }
  EXPECT_GE(killed, 20) << "the consumer should have been killed mid-stream many times";
  producer.join();
  if (log->done.load(std::memory_order_acquire) == 0) {
    pid_t last = test::spawn(consumer);
    ASSERT_EQ(test::wait_child(last, 120s), 0);
  }
  const uint64_t n = log->count.load(std::memory_order_acquire);
  ASSERT_LE(n, kLogEntries);
  ASSERT_GT(n, 0u);
  // At least once, in order, never a skip: each id is at most one past the one before (a restart
  // goes back to the committed cursor, so it may repeat), and they reach the last record.
  EXPECT_EQ(ids.get()[0], 0u);
  uint64_t highest = 0, repeats = 0;
  for (uint64_t i = 1; i < n; ++i) {
    const uint64_t prev = ids.get()[i - 1], id = ids.get()[i];
    ASSERT_NE(id, ~0ull) << "damaged record at entry " << i;
    ASSERT_LE(id, prev + 1) << "skipped from " << prev << " to " << id << " at entry " << i;
    repeats += id <= prev;
    highest = std::max(highest, id);
  }
  EXPECT_EQ(highest, kRecords - 1);
  std::cout << "[          ] " << n << " deliveries of " << kRecords << " records; " << repeats
            << " times a restart went back to the committed cursor\n";
}

}  // namespace
}  // namespace shmbus
