// Bus::subscribe(): one verb for a topic name and for a pattern, one Subscription type.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>

#include "shmbus/shmbus.h"
#include "support/test_bus.h"

namespace shmbus {
namespace {

using namespace std::chrono_literals;

TEST(Subscription, NameReadsOneTopicCreatingItWithAPosition) {
  test::TempBus tb;
  Bus bus = tb.open();
  Subscription sut = bus.subscribe("orders.eu", {StartAt::earliest()});
  Publisher pub = bus.publisher("orders.eu");
  ASSERT_TRUE(pub.publish("a"));
  ASSERT_TRUE(pub.publish("b"));

  Result<size_t> n = sut.poll([](const Message&) {});

  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 2u);
  EXPECT_FALSE(sut.is_pattern());
  EXPECT_EQ(sut.name(), "orders.eu");
  EXPECT_EQ(sut.topic_count(), 1u);
  EXPECT_EQ(sut.position(), bus.stats("orders.eu").tail_position);
  EXPECT_TRUE(bus.topic_exists("orders.eu"));
}

TEST(Subscription, PatternReadsEveryMatchingTopicWithTheSameVerbs) {
  test::TempBus tb;
  Bus bus = tb.open();
  Publisher eu = bus.publisher("orders.eu");
  Publisher us = bus.publisher("orders.us");
  Subscription sut = bus.subscribe("orders.*", {StartAt::earliest()});
  ASSERT_TRUE(eu.publish("a"));
  ASSERT_TRUE(us.publish("b"));

  std::set<std::string> topics;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (topics.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(sut.receive([&](const Message& m) { topics.emplace(m.topic); }, 10, 100ms));
  }
  Result<Sample> none = sut.try_receive();

  EXPECT_EQ(topics, (std::set<std::string>{"orders.eu", "orders.us"}));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error(), Errc::kTimeout);
  EXPECT_TRUE(sut.is_pattern());
  EXPECT_EQ(sut.name(), "orders.*");
  EXPECT_EQ(sut.topic_count(), 2u);
  EXPECT_EQ(sut.position(), 0u);  // a pattern has no single position
}

TEST(Subscription, CursorWithAPatternIsRefusedSayingWhy) {
  test::TempBus tb;
  Bus bus = tb.open();
  SubscribeOptions options;
  options.cursor = "billing";

  try {
    static_cast<void>(bus.subscribe("orders.#", options));
    FAIL() << "a named cursor with a pattern was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("a named cursor follows one topic"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("orders.#"), std::string::npos) << e.what();
  }
}

TEST(Subscription, CommitOnAPatternIsInvalidArgument) {
  test::TempBus tb;
  Bus bus = tb.open();
  Subscription sut = bus.subscribe("orders.#");

  Result<void> r = sut.commit();

  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Errc::kInvalidArgument);
}

TEST(Subscription, PollNeverWaitsEvenWithTheBlockStrategy) {
  test::TempBus tb;
  Bus bus = tb.open();
  Subscription topic = bus.subscribe("quiet", {StartAt::latest(), WaitStrategy::kBlock});
  Subscription pattern = bus.subscribe("quiet.#", {StartAt::latest(), WaitStrategy::kBlock});
  const auto start = std::chrono::steady_clock::now();

  Result<size_t> a = topic.poll([](const Message&) {});
  Result<size_t> b = pattern.poll([](const Message&) {});

  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_EQ(*a + *b, 0u);
}

TEST(Subscription, WildcardInsideAWordIsAnInvalidName) {
  test::TempBus tb;
  Bus bus = tb.open();

  try {
    static_cast<void>(bus.subscribe("orders.eu*"));
    FAIL() << "orders.eu* was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidName);
  }
}

TEST(Subscription, MovedFromIsClosed) {
  test::TempBus tb;
  Bus bus = tb.open();
  Subscription moved = bus.subscribe("t");
  Subscription sut = std::move(moved);

  Result<size_t> n = moved.poll([](const Message&) {});  // NOLINT(bugprone-use-after-move): the point

  ASSERT_FALSE(n);
  EXPECT_EQ(n.error(), Errc::kClosed);
  EXPECT_FALSE(moved);
  EXPECT_TRUE(sut);
  EXPECT_EQ(moved.commit().error(), Errc::kClosed);
}

}  // namespace
}  // namespace shmbus
