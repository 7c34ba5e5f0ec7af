// Journal topics beyond append and recovery: replay by time, named cursors, retention, stats.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "log/segments/segment_file.h"
#include "log/segments/time_index.h"
#include "log/file_header.h"
#include "shmbus/bus.h"
#include "support/test_bus.h"

namespace shmbus {
namespace {

using namespace std::chrono_literals;
using test::TempBus;

constexpr uint64_t kSegment = 64 * 1024;
constexpr uint64_t kSegmentFile = kSegment + log::segments::kSegmentHeaderBytes;

TopicConfig journal_config(const std::string& dir = "") {
  TopicConfig c;
  c.kind = TopicKind::kJournal;
  c.data_dir = dir;
  c.segment_bytes = kSegment;
  return c;
}

struct TempDir : test::TempDir {
  TempDir() : test::TempDir("/tmp", "journal-features") {}
};

std::string payload_for(uint64_t i) { return std::to_string(i) + ":" + std::string(40 + (i * 53) % 300, 'x'); }

struct Seen {
  uint64_t position;
  uint64_t seq;
  int64_t timestamp_ns;
  std::string text;
};

// Polls until nothing more comes for a while (the journal is quiet in these tests).
std::vector<Seen> drain(Subscription& sub, size_t max_per_poll = 4096) {
  std::vector<Seen> got;
  for (int idle = 0; idle < 20;) {
    Result<size_t> n = sub.receive(
        [&](const Message& m) { got.push_back({m.position, m.seq, m.timestamp_ns, std::string(m.text())}); },
        max_per_poll, 5ms);
    EXPECT_TRUE(n) << to_string(n.error());
    if (!n) break;
    idle = *n == 0 ? idle + 1 : 0;
  }
  return got;
}

std::vector<Seen> publish_spread(Bus& bus, const std::string& topic, uint64_t count) {
  Publisher pub = bus.publisher(topic);
  for (uint64_t i = 0; i < count; ++i) {
    EXPECT_TRUE(pub.publish(payload_for(i)));
    if (i % 500 == 0) std::this_thread::sleep_for(1ms);  // distinct, increasing times
  }
  Subscription all = bus.subscribe(topic, {StartAt::earliest()});
  return drain(all);
}

TEST(JournalReplay, ByTimeLandsOnTheFirstRecordAtOrAfterIt) {
  constexpr uint64_t kCount = 6'000;  // ~1.3 MB: about twenty 64 KiB segments
  TempBus tb;
  Bus bus = tb.open();
  ASSERT_TRUE(bus.create_topic("ticks", journal_config()));
  const std::vector<Seen> all = publish_spread(bus, "ticks", kCount);
  ASSERT_EQ(all.size(), kCount);
  for (size_t i = 1; i < all.size(); ++i) ASSERT_LE(all[i - 1].timestamp_ns, all[i].timestamp_ns) << i;

  auto first_at_or_after = [&](int64_t t) -> size_t {
    size_t i = 0;
    while (i < all.size() && all[i].timestamp_ns < t) ++i;
    return i;
  };
  for (size_t k : {size_t{0}, size_t{1}, size_t{499}, size_t{500}, size_t{501}, size_t{2345}, size_t{5000}, kCount - 1}) {
    for (int64_t delta : {-1, 0, 1}) {
      const int64_t t = all[k].timestamp_ns + delta;
      const size_t want = first_at_or_after(t);
      Subscription sub = bus.subscribe("ticks", {StartAt::time(t)});
      std::vector<Seen> got = drain(sub);
      ASSERT_EQ(got.size(), kCount - want) << "k " << k << " delta " << delta;
      if (want < kCount) {
        EXPECT_EQ(got.front().position, all[want].position) << "k " << k << " delta " << delta;
        EXPECT_EQ(got.front().seq, want);
      }
    }
  }
  // Before everything: from the start. After everything: only what comes next, live.
  Subscription early = bus.subscribe("ticks", {StartAt::time(1)});
  EXPECT_EQ(drain(early).size(), kCount);
  Subscription late = bus.subscribe("ticks", {StartAt::time(all.back().timestamp_ns + 1)});
  EXPECT_TRUE(drain(late).empty());
  Publisher pub = bus.publisher("ticks");
  ASSERT_TRUE(pub.publish(std::string_view("live")));
  std::vector<Seen> live = drain(late);
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].text, "live");
}

TEST(JournalReplay, EverySegmentCarriesASparseTimeIndex) {
  TempBus tb;
  Bus bus = tb.open();
  ASSERT_TRUE(bus.create_topic("ticks", journal_config()));
  const std::vector<Seen> all = publish_spread(bus, "ticks", 3'000);
  const std::string dir = bus.stats("ticks").config.data_dir;
  const auto segments = log::segments::list_segments(dir);
  ASSERT_GE(segments.size(), 5u);
  for (size_t i = 0; i + 2 < segments.size(); ++i) {  // the full ones
    log::segments::SegmentTimes times(segments[i].second, segments[i].first, kSegment);
    EXPECT_GE(times.size(), log::segments::kTimeIndexEntries - 2) << segments[i].second;  // a mark per 512 bytes
    for (size_t m = 0; m < times.size(); ++m) {
      // Each mark names a real record and its time.
      auto it = std::find_if(all.begin(), all.end(), [&](const Seen& s) { return s.position == times[m].position; });
      ASSERT_NE(it, all.end());
      EXPECT_EQ(it->timestamp_ns, times[m].timestamp_ns);
    }
  }
}

TEST(JournalCursor, ResumesWhereItWasCommitted) {
  TempBus tb;
  Bus bus = tb.open();
  ASSERT_TRUE(bus.create_topic("orders", journal_config()));
  const std::vector<Seen> all = publish_spread(bus, "orders", 300);
  SubscribeOptions auto_commit{StartAt::earliest()};
  auto_commit.cursor = "billing";
  {
    Subscription sub = bus.subscribe("orders", auto_commit);
    size_t got = 0;
    ASSERT_EQ(*sub.poll([&](const Message& m) { EXPECT_EQ(m.text(), all[got++].text); }, 100), 100u);
  }  // committed after that poll
  {
    Subscription sub = bus.subscribe("orders", auto_commit);
    std::vector<Seen> rest = drain(sub, 7);
    ASSERT_EQ(rest.size(), 200u);
    EXPECT_EQ(rest.front().text, all[100].text);
    EXPECT_EQ(rest.front().seq, 100u);
  }
  SubscribeOptions manual{StartAt::earliest()};
  manual.cursor = "audit";
  manual.commit = CommitMode::kManual;
  {
    Subscription sub = bus.subscribe("orders", manual);
    ASSERT_EQ(*sub.poll([](const Message&) {}, 50), 50u);
    ASSERT_TRUE(sub.commit());
    ASSERT_EQ(*sub.poll([](const Message&) {}, 20), 20u);  // read, never committed
  }
  Subscription sub = bus.subscribe("orders", manual);
  std::vector<Seen> again = drain(sub);
  ASSERT_EQ(again.size(), 250u);
  EXPECT_EQ(again.front().text, all[50].text);

  // Stats show each cursor and its lag; the held one is in use.
  TopicStats s = bus.stats("orders");
  ASSERT_EQ(s.cursors.size(), 2u);
  EXPECT_EQ(s.cursors[0].name, "audit");
  EXPECT_EQ(s.cursors[0].lag_records, 250u);
  EXPECT_EQ(s.cursors[0].lag_bytes, s.tail_position - all[50].position);
  EXPECT_TRUE(s.cursors[0].in_use);
  EXPECT_EQ(s.cursors[1].name, "billing");
  EXPECT_EQ(s.cursors[1].lag_records, 0u);
  EXPECT_FALSE(s.cursors[1].in_use);
}

TEST(JournalCursor, OneSubscriberPerCursorAndClearErrors) {
  TempBus tb;
  Bus bus = tb.open();
  ASSERT_TRUE(bus.create_topic("orders", journal_config()));
  ASSERT_TRUE(bus.create_topic("prices"));  // a memory topic
  SubscribeOptions o;
  o.cursor = "billing";
  Subscription holder = bus.subscribe("orders", o);
  try {
    bus.subscribe("orders", o);
    FAIL() << "a second subscriber took a cursor in use";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("in use"), std::string::npos) << e.what();
  }
  try {
    bus.subscribe("prices", o);
    FAIL() << "a memory topic took a named cursor";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("journal"), std::string::npos) << e.what();
  }
  for (const char* bad : {"a/b", "..", "x y", "0123456789012345678901234567890123456789012345678901234567890123456789"}) {
    o.cursor = bad;
    try {
      bus.subscribe("orders", o);
      FAIL() << "cursor name \"" << bad << "\" was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidName) << bad;
    }
  }
  EXPECT_FALSE(holder.commit().error() == Errc::kInvalidArgument);
  Subscription plain = bus.subscribe("orders");
  EXPECT_EQ(plain.commit().error(), Errc::kInvalidArgument);
}

TEST(JournalCursor, SurvivesLosingTheBus) {
  TempDir data;
  std::vector<Seen> all;
  {
    TempBus tb;
    Bus bus = tb.open();
    ASSERT_TRUE(bus.create_topic("ledger", journal_config(data.path())));
    all = publish_spread(bus, "ledger", 1'000);
    SubscribeOptions o{StartAt::earliest()};
    o.cursor = "reporting";
    Subscription sub = bus.subscribe("ledger", o);
    ASSERT_EQ(*sub.poll([](const Message&) {}, 600), 600u);
  }
  TempBus tb;
  Bus bus = tb.open();
  ASSERT_TRUE(bus.create_topic("ledger", journal_config(data.path())));
  SubscribeOptions o;  // latest, were the cursor new: it is not
  o.cursor = "reporting";
  Subscription sub = bus.subscribe("ledger", o);
  std::vector<Seen> rest = drain(sub);
  ASSERT_EQ(rest.size(), 400u);
  EXPECT_EQ(rest.front().text, all[600].text);
}

TEST(JournalCursor, DamagedCursorFilesAreClearErrors) {
  TempBus tb;
  Bus bus = tb.open();
  ASSERT_TRUE(bus.create_topic("orders", journal_config()));
  publish_spread(bus, "orders", 10);
  SubscribeOptions o{StartAt::earliest()};
  o.cursor = "billing";
  { Subscription s = bus.subscribe("orders", o); }
  const std::string path = bus.stats("orders").config.data_dir + "/cursors/billing";
  auto expect_error = [&](ErrorKind kind, const std::string& says) {
    try {
      bus.subscribe("orders", o);
      FAIL() << "a damaged cursor was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), kind) << e.what();
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
    }
  };
  {  // a position that is no record boundary
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(sizeof(log::FileHeader));
    const uint64_t odd = 24;
    f.write(reinterpret_cast<const char*>(&odd), sizeof odd);
  }
  expect_error(ErrorKind::kCorrupt, "cursor set");
  {  // not a shmbus file at all
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << std::string(4096, 'x');
  }
  expect_error(ErrorKind::kNotShmbus, path);
  // `cursor reset` clears it; the next subscriber starts where its options say.
  EXPECT_TRUE(bus.remove_cursor("orders", "billing"));
  Subscription fresh = bus.subscribe("orders", o);
  EXPECT_EQ(drain(fresh).size(), 10u);
}

TEST(MemoryReplay, ByTimeScansTheRing) {
  TempBus tb;
  Bus bus = tb.open();
  ASSERT_TRUE(bus.create_topic("ticks"));  // a memory ring: no index, at most its capacity to read
  Subscription all = bus.subscribe("ticks", {StartAt::earliest()});
  Publisher pub = bus.publisher("ticks");
  for (uint64_t i = 0; i < 1'000; ++i) {
    ASSERT_TRUE(pub.publish(payload_for(i)));
    if (i % 100 == 0) std::this_thread::sleep_for(1ms);
  }
  const std::vector<Seen> seen = drain(all);
  ASSERT_EQ(seen.size(), 1'000u);
  Subscription from = bus.subscribe("ticks", {StartAt::time(seen[500].timestamp_ns)});
  std::vector<Seen> got = drain(from);
  ASSERT_FALSE(got.empty());
  size_t want = 0;
  while (seen[want].timestamp_ns < seen[500].timestamp_ns) ++want;
  EXPECT_EQ(got.front().position, seen[want].position);
  EXPECT_EQ(got.size(), 1'000u - want);
}

TEST(JournalMessageId, IsTopicAtPositionUnlessThePublisherSetOne) {
  TempBus tb;
  Bus bus = tb.open();
  ASSERT_TRUE(bus.create_topic("orders", journal_config()));
  Subscription sub = bus.subscribe("orders");
  Publisher pub = bus.publisher("orders");
  Result<uint64_t> first = pub.publish(std::string_view("a"));
  ASSERT_TRUE(first);
  const Header h[] = {{header_keys::kMessageId, "order-17"}};
  ASSERT_TRUE(pub.publish(std::string_view("b"), h));
  std::vector<std::string> ids;
  ASSERT_EQ(*sub.poll([&](const Message& m) { ids.push_back(m.message_id()); }), 2u);
  EXPECT_EQ(ids[0], "orders@" + std::to_string(*first));
  EXPECT_EQ(ids[1], "order-17");
}

TEST(JournalRetention, ByBytesDeletesTheOldestSegmentsWhileASubscriberReads) {
  constexpr uint64_t kCount = 20'000;  // ~4 MB through a 4-segment budget
  TempBus tb;
  Bus bus = tb.open();
  TopicConfig c = journal_config();
  c.retain_bytes = 4 * kSegmentFile;
  ASSERT_TRUE(bus.create_topic("metrics", c));
  Subscription reader = bus.subscribe("metrics", {StartAt::earliest()});
  Publisher pub = bus.publisher("metrics");
  std::thread writer([&] {
    for (uint64_t i = 0; i < kCount; ++i) ASSERT_TRUE(pub.publish(payload_for(i)));
  });
  // A slow reader: retention may not take what it has not read, and it loses nothing.
  uint64_t next = 0;
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (next < kCount && std::chrono::steady_clock::now() < deadline) {
    Result<size_t> n = reader.receive([&](const Message& m) { ASSERT_EQ(m.text(), payload_for(next++)); }, 64, 10ms);
    ASSERT_TRUE(n);
    if (next % 1024 == 0) std::this_thread::sleep_for(1ms);
  }
  writer.join();
  EXPECT_EQ(next, kCount);
  EXPECT_EQ(reader.lost(), 0u);
  const std::string dir = bus.stats("metrics").config.data_dir;
  ASSERT_TRUE(test::eventually([&] { return bus.stats("metrics").segments * kSegmentFile <= c.retain_bytes; }));
  TopicStats s = bus.stats("metrics");
  EXPECT_GT(s.deleted_segments, 40u);
  EXPECT_EQ((s.segments + s.spare_segments) * kSegmentFile, s.disk_bytes);
  EXPECT_LE(s.spare_segments, 2u);
  EXPECT_EQ(s.skipped, 0u);
  // What is left are the newest segments, contiguous, the tail's among them, first_position first.
  const auto left = log::segments::list_segments(dir);
  ASSERT_FALSE(left.empty());
  EXPECT_EQ(left.front().first, s.first_position);
  for (size_t i = 1; i < left.size(); ++i) EXPECT_EQ(left[i].first, left[i - 1].first + kSegment);
  EXPECT_LE(left.front().first, s.tail_position);
  EXPECT_GE(left.back().first + kSegment, s.tail_position);
  Subscription earliest = bus.subscribe("metrics", {StartAt::earliest()});
  std::vector<Seen> kept = drain(earliest);
  ASSERT_FALSE(kept.empty());
  EXPECT_EQ(kept.back().text, payload_for(kCount - 1));
  EXPECT_EQ(kept.front().position, s.first_position);
}

TEST(JournalRetention, ALiveSubscriberHoldsItsSegmentAndAnAbsentCursorMovesOnCountingTheSkip) {
  TempBus tb;
  Bus bus = tb.open();
  TopicConfig c = journal_config();
  c.retain_bytes = 3 * kSegmentFile;
  ASSERT_TRUE(bus.create_topic("metrics", c));
  SubscribeOptions late{StartAt::earliest()};
  late.cursor = "late";
  { Subscription s = bus.subscribe("metrics", late); }  // a cursor at position 0, its owner gone
  Subscription holder = bus.subscribe("metrics", {StartAt::earliest()});
  Publisher pub = bus.publisher("metrics");
  for (uint64_t i = 0; i < 5'000; ++i) ASSERT_TRUE(pub.publish(payload_for(i)));
  std::this_thread::sleep_for(500ms);  // five retention passes
  EXPECT_EQ(bus.stats("metrics").first_position, 0u) << "a live subscriber's segment was deleted";
  EXPECT_EQ(drain(holder).size(), 5'000u);
  ASSERT_TRUE(test::eventually([&] { return bus.stats("metrics").segments * kSegmentFile <= c.retain_bytes; }));

  Subscription resumed = bus.subscribe("metrics", late);
  std::vector<Seen> got = drain(resumed);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.front().position, bus.stats("metrics").first_position);
  EXPECT_EQ(resumed.lost(), got.front().seq) << "every record before the first retained one is counted";
  EXPECT_EQ(got.front().seq + got.size(), 5'000u);
  EXPECT_EQ(bus.stats("metrics").skipped, got.front().seq);
}

TEST(JournalRetention, ByAgeDeletesSegmentsWhoseRecordsAreAllOlder) {
  TempBus tb;
  Bus bus = tb.open();
  TopicConfig c = journal_config();
  c.retain_age = 1000ms;
  ASSERT_TRUE(bus.create_topic("logs", c));
  Publisher pub = bus.publisher("logs");
  Result<uint64_t> last_old = 0;
  for (uint64_t i = 0; i < 2'000; ++i) ASSERT_TRUE(last_old = pub.publish(payload_for(i)));
  // Once the age passes, every segment before the tail's goes: all its records are older than
  // the next segment's first. The tail's segment stays, however old: it is being written.
  const uint64_t keep_from = *last_old - *last_old % kSegment;
  ASSERT_GT(keep_from, 0u);
  ASSERT_TRUE(test::eventually([&] { return bus.stats("logs").first_position == keep_from; }, 10s))
      << bus.stats("logs").first_position << " vs " << keep_from;
  // New records: the segment of the last old record now has a newer successor, but its own
  // records are not old yet by that rule (the successor's first record is new): nothing goes.
  for (uint64_t i = 0; i < 1'000; ++i) ASSERT_TRUE(pub.publish(payload_for(i)));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(bus.stats("logs").first_position, keep_from) << "new records were deleted";
  EXPECT_EQ(bus.stats("logs").deleted_segments, keep_from / kSegment);
}

TEST(JournalStats, ShowSegmentsBytesAndTimes) {
  TempBus tb;
  Bus bus = tb.open();
  ASSERT_TRUE(bus.create_topic("ticks", journal_config()));
  const std::vector<Seen> all = publish_spread(bus, "ticks", 2'000);
  TopicStats s = bus.stats("ticks");
  EXPECT_GE(s.segments, 5u);
  EXPECT_EQ(s.disk_bytes, s.segments * kSegmentFile);
  EXPECT_EQ(s.oldest_ns, all.front().timestamp_ns);
  EXPECT_EQ(s.newest_ns, all.back().timestamp_ns);
  EXPECT_EQ(s.first_position, 0u);
}

}  // namespace
}  // namespace shmbus

namespace shmbus {
namespace {

// Pipelined durability: a publisher on an fsync `always` journal publishes without waiting per
// record, then one wait_durable() makes everything on disk with a flush or two (not one per
// record); durable_position() says how far. A journal with fsync never is made durable on demand
// the same way; a memory topic never is.
TEST(JournalPipelined, PublishesWithoutWaitingAndOneWaitMakesThemAllDurable) {
  TempBus tb;
  Bus bus = tb.open();
  TopicConfig always;
  always.kind = TopicKind::kJournal;
  always.segment_bytes = 1 << 20;
  always.fsync = FsyncPolicy::kAlways;
  bus.create_topic("audit", always);
  Publisher pub = bus.publisher("audit");
  uint64_t last = 0;
  for (int i = 0; i < 1000; ++i) {
    Result<uint64_t> at = pub.publish_pipelined("entry " + std::to_string(i));
    ASSERT_TRUE(at.has_value()) << to_string(at.error());
    last = *at;
  }
  EXPECT_LE(pub.durable_position(), last) << "nobody flushed yet: the last record cannot be durable";
  EXPECT_LT(bus.stats("audit").flushes, 2u);
  Result<uint64_t> durable = pub.wait_durable(last, 10s);
  ASSERT_TRUE(durable.has_value()) << to_string(durable.error());
  EXPECT_GT(*durable, last);
  EXPECT_EQ(pub.durable_position(), *durable);
  const TopicStats s = bus.stats("audit");
  EXPECT_GE(s.flushed_records, 1000u);
  EXPECT_LE(s.flushes, 3u) << "one flush for the batch, not one per record";
  // A plain publish still returns only once durable.
  Result<uint64_t> one = pub.publish("sync");
  ASSERT_TRUE(one.has_value());
  EXPECT_GT(pub.durable_position(), *one);

  TopicConfig never = always;
  never.fsync = FsyncPolicy::kNever;
  bus.create_topic("log", never);
  Publisher lazy = bus.publisher("log");
  Result<uint64_t> at = lazy.publish_pipelined("x");
  ASSERT_TRUE(at.has_value());
  ASSERT_TRUE(lazy.wait_durable(*at, 10s).has_value());
  EXPECT_GT(lazy.durable_position(), *at);

  Publisher ring = bus.publisher("memory");
  Result<uint64_t> r = ring.publish_pipelined("y");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(ring.durable_position(), 0u);
  EXPECT_EQ(ring.wait_durable(*r, 1s).error(), Errc::kInvalidArgument);
}

}  // namespace
}  // namespace shmbus
