// Samples (pull-style receive that pins its record), controlled polls, and results without an
// "ok" error code.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "shmbus/shmbus.h"
#include "support/test_bus.h"

namespace shmbus {
namespace {

using namespace std::chrono_literals;
using test::TempBus;

TopicConfig small_ring(Policy policy) {
  TopicConfig c;
  c.capacity = 4096;
  c.policy = policy;
  return c;
}

TEST(Sample, TryReceiveReturnsTimeoutWhenNothingIsThere) {
  TempBus tb;
  Bus bus = tb.open();
  Subscription sut = bus.subscribe("orders");

  Result<Sample> got = sut.try_receive();

  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error(), Errc::kTimeout);
}

TEST(Sample, HoldsTheRecordAfterTheCallReturns) {
  TempBus tb;
  Bus bus = tb.open();
  Subscription sut = bus.subscribe("orders", StartAt::earliest());
  Publisher pub = bus.publisher("orders");
  const Header headers[] = {{"type", "OrderPlaced"}};
  ASSERT_TRUE(pub.publish("order 42", headers));

  Result<Sample> got = sut.receive(1s);

  ASSERT_TRUE(got.has_value()) << to_string(got.error());
  EXPECT_EQ(got->message().text(), "order 42");
  EXPECT_EQ(got->message().topic, "orders");
  ASSERT_TRUE(got->message().headers.find("type").has_value());
  EXPECT_EQ(*got->message().headers.find("type"), "OrderPlaced");
  EXPECT_NE(got->mapping(), nullptr);
}

TEST(Sample, KeepsBlockPublishersOffItsBytesUntilReleased) {
  TempBus tb;
  Bus bus = tb.open();
  ASSERT_TRUE(bus.create_topic("jobs", small_ring(Policy::kFail)));
  Subscription sut = bus.subscribe("jobs", StartAt::earliest());
  Publisher pub = bus.publisher("jobs");
  const std::string payload(200, 'a');
  ASSERT_TRUE(pub.publish(payload));
  Result<Sample> held = sut.receive(1s);
  ASSERT_TRUE(held.has_value());
  // Read everything after it: only the held sample keeps the ring's space.
  int published = 0;
  while (pub.publish(std::string(200, 'b')).has_value()) ++published;
  size_t drained = 0;
  for (;;) {
    Result<size_t> n = sut.poll([](const Message&) {});
    ASSERT_TRUE(n.has_value());
    if (*n == 0) break;
    drained += *n;
  }
  ASSERT_EQ(drained, static_cast<size_t>(published));

  // The publisher cannot lap the held record, and its bytes are still intact.
  EXPECT_EQ(pub.try_publish(std::string(200, 'c')).error(), Errc::kWouldBlock);
  EXPECT_EQ(held->message().text(), payload);

  held->release();
  EXPECT_TRUE(pub.try_publish(std::string(200, 'c')).has_value());
}

TEST(Sample, ReleasedOutOfOrderHoldsTheOldestStillHeld) {
  TempBus tb;
  Bus bus = tb.open();
  ASSERT_TRUE(bus.create_topic("jobs", small_ring(Policy::kFail)));
  Subscription sut = bus.subscribe("jobs", StartAt::earliest());
  Publisher pub = bus.publisher("jobs");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(pub.publish(std::string(400, char('0' + i))));
  std::vector<Sample> held;
  for (int i = 0; i < 3; ++i) {
    Result<Sample> got = sut.try_receive();
    ASSERT_TRUE(got.has_value());
    held.push_back(std::move(*got));
  }
  held[1].release();
  held[2].release();
  while (pub.try_publish(std::string(400, 'x')).has_value()) {
  }
  ASSERT_TRUE(sut.poll([](const Message&) {}).has_value());

  // The first sample still pins its record.
  EXPECT_EQ(held[0].message().text(), std::string(400, '0'));
  EXPECT_EQ(pub.try_publish(std::string(400, 'y')).error(), Errc::kWouldBlock);
}

TEST(Sample, OverwriteTopicsHandOutACopy) {
  TempBus tb;
  Bus bus = tb.open();
  ASSERT_TRUE(bus.create_topic("ticks", small_ring(Policy::kOverwrite)));
  Subscription sut = bus.subscribe("ticks", StartAt::earliest());
  Publisher pub = bus.publisher("ticks");
  ASSERT_TRUE(pub.publish("first"));
  Result<Sample> got = sut.receive(1s);
  ASSERT_TRUE(got.has_value());

  for (int i = 0; i < 200; ++i) ASSERT_TRUE(pub.publish(std::string(100, 'z')));  // laps the ring

  EXPECT_EQ(got->message().text(), "first");
  EXPECT_EQ(got->mapping(), nullptr);
}

TEST(Sample, MovedSampleReleasesOnce) {
  TempBus tb;
  Bus bus = tb.open();
  ASSERT_TRUE(bus.create_topic("jobs", small_ring(Policy::kFail)));
  Subscription sut = bus.subscribe("jobs", StartAt::earliest());
  Publisher pub = bus.publisher("jobs");
  ASSERT_TRUE(pub.publish("one"));
  Result<Sample> got = sut.try_receive();
  ASSERT_TRUE(got.has_value());

  Sample moved = std::move(*got);

  EXPECT_FALSE(static_cast<bool>(*got));
  ASSERT_TRUE(static_cast<bool>(moved));
  EXPECT_EQ(moved.message().text(), "one");
}

TEST(Sample, PatternSubscriberReceivesFromEveryTopic) {
  TempBus tb;
  Bus bus = tb.open();
  Subscription sut = bus.subscribe("orders.*", StartAt::earliest());
  ASSERT_TRUE(bus.publisher("orders.eu").publish("eu"));
  ASSERT_TRUE(bus.publisher("orders.us").publish("us"));

  std::vector<std::string> got;
  for (int i = 0; i < 2; ++i) {
    Result<Sample> s = sut.receive(2s);
    ASSERT_TRUE(s.has_value()) << to_string(s.error());
    got.emplace_back(s->message().text());
  }

  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"eu", "us"}));
}

TEST(ControlledPoll, StopEndsTheBatchAfterThatMessage) {
  TempBus tb;
  Bus bus = tb.open();
  Subscription sut = bus.subscribe("orders", StartAt::earliest());
  Publisher pub = bus.publisher("orders");
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(pub.publish("m" + std::to_string(i)));
  std::vector<std::string> seen;

  Result<size_t> n = sut.controlled_poll([&](const Message& m) {
    seen.emplace_back(m.text());
    return seen.size() == 2 ? PollAction::kStop : PollAction::kContinue;
  });

  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(seen, (std::vector<std::string>{"m0", "m1"}));
  // The rest comes with the next poll, none lost.
  size_t rest = 0;
  ASSERT_TRUE(sut.poll([&](const Message&) { ++rest; }).has_value());
  EXPECT_EQ(rest, 3u);
}

TEST(ControlledPoll, StopWorksOnOverwriteTopicsToo) {
  TempBus tb;
  Bus bus = tb.open();
  ASSERT_TRUE(bus.create_topic("ticks", small_ring(Policy::kOverwrite)));
  Subscription sut = bus.subscribe("ticks", StartAt::earliest());
  Publisher pub = bus.publisher("ticks");
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(pub.publish("t" + std::to_string(i)));

  Result<size_t> n = sut.controlled_poll([](const Message&) { return PollAction::kStop; });

  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*n, 1u);
  size_t rest = 0;
  ASSERT_TRUE(sut.poll([&](const Message&) { ++rest; }).has_value());
  EXPECT_EQ(rest, 4u);
}

TEST(ResultType, AnErrorCarriesAValueOnlyWhenBuiltWithOne) {
  const Result<uint64_t> plain = Errc::kTimeout;
  const Result<uint64_t> carried(Errc::kNotDurable, 4096);

  EXPECT_FALSE(plain.has_value());
  EXPECT_FALSE(carried.has_value());
  EXPECT_EQ(carried.error(), Errc::kNotDurable);
  EXPECT_EQ(carried.value(), 4096u);
  EXPECT_STREQ(to_string(Errc::kNotDurable), "not-durable");
}

TEST(TopicConfigCheck, JournalRefusesARingPolicy) {
  TempBus tb;
  Bus bus = tb.open();
  TopicConfig c;
  c.kind = TopicKind::kJournal;
  c.policy = Policy::kOverwrite;

  try {
    bus.create_topic("audit", c);
    FAIL() << "a journal with policy overwrite was created";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("applies to memory topics"), std::string::npos) << e.what();
  }
}

TEST(TopicConfigCheck, MemoryTopicRefusesFsync) {
  TempBus tb;
  Bus bus = tb.open();
  TopicConfig c;
  c.fsync = FsyncPolicy::kAlways;

  EXPECT_THROW(bus.create_topic("ticks", c), Error);
  EXPECT_FALSE(bus.topic_exists("ticks"));
}

}  // namespace
}  // namespace shmbus
