// One process: publish, subscribe, headers, zero copy, start positions, policies.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "shmbus/shmbus.h"
#include "support/test_bus.h"

namespace shmbus {
namespace {

using namespace std::chrono_literals;
using test::TempBus;

struct Got {
  std::string topic;
  uint64_t position;
  uint64_t seq;
  std::string payload;
};

std::vector<Got> drain(Subscription& sub, size_t max = SIZE_MAX) {
  std::vector<Got> out;
  Result<size_t> n = sub.poll([&](const Message& m) {
    out.push_back({std::string(m.topic), m.position, m.seq, std::string(m.text())});
  }, max);
  EXPECT_TRUE(n.has_value()) << to_string(n.error());
  return out;
}

TEST(PubSub, SubscriberSeesRecordsInOrder) {
  TempBus tb;
  Bus bus = tb.open();
  Subscription sut = bus.subscribe("orders.created");
  Publisher pub = bus.publisher("orders.created");

  for (int i = 0; i < 100; ++i) ASSERT_TRUE(pub.publish("m" + std::to_string(i)));
  std::vector<Got> got = drain(sut);

  ASSERT_EQ(got.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(got[i].payload, "m" + std::to_string(i));
    EXPECT_EQ(got[i].seq, static_cast<uint64_t>(i));
    EXPECT_EQ(got[i].topic, "orders.created");
  }
}

TEST(PubSub, PublishReturnsPositionSeenBySubscriber) {
  TempBus tb;
  Bus bus = tb.open();
  Subscription sut = bus.subscribe("t");
  Publisher pub = bus.publisher("t");

  Result<uint64_t> first = pub.publish("a");
  Result<uint64_t> second = pub.publish("b");
  std::vector<Got> got = drain(sut);

  ASSERT_TRUE(first && second);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].position, *first);
  EXPECT_EQ(got[1].position, *second);
  EXPECT_LT(*first, *second);
}

TEST(PubSub, HeadersRoundTrip) {
  TempBus tb;
  Bus bus = tb.open();
  Subscription sut = bus.subscribe("t");
  Publisher pub = bus.publisher("t");
  const Header headers[] = {{"type", "OrderPlaced"}, {"correlation-id", "42"}, {"empty", ""}};

  ASSERT_TRUE(pub.publish("body", headers));
  std::vector<std::pair<std::string, std::string>> seen;
  std::string body;
  ASSERT_TRUE(sut.poll([&](const Message& m) {
    for (Header h : m.headers) seen.emplace_back(h.key, h.value);
    body = std::string(m.text());
  }));

  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], std::make_pair(std::string("type"), std::string("OrderPlaced")));
  EXPECT_EQ(seen[1], std::make_pair(std::string("correlation-id"), std::string("42")));
  EXPECT_EQ(seen[2], std::make_pair(std::string("empty"), std::string("")));
  EXPECT_EQ(body, "body");
}

TEST(PubSub, ZeroCopyClaimCommit) {
  TempBus tb;
  Bus bus = tb.open();
  Subscription sut = bus.subscribe("t");
  Publisher pub = bus.publisher("t");

  Result<Claim> claim = pub.claim(5);
  ASSERT_TRUE(claim);
  std::memcpy(claim->payload().data(), "hello", 5);
  ASSERT_TRUE(pub.commit(*claim));
  std::vector<Got> got = drain(sut);

  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "hello");
}

TEST(PubSub, AbortedClaimIsSkipped) {
  TempBus tb;
  Bus bus = tb.open();
  Subscription sut = bus.subscribe("t");
  Publisher pub = bus.publisher("t");

  Result<Claim> claim = pub.claim(8);
  ASSERT_TRUE(claim);
  pub.abort(*claim);
  ASSERT_TRUE(pub.publish("after"));
  std::vector<Got> got = drain(sut);

  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "after");
}

TEST(PubSub, UncommittedClaimHoldsBackLaterRecords) {
  TempBus tb;
  Bus bus = tb.open();
  Subscription sut = bus.subscribe("t");
  Publisher slow = bus.publisher("t");
  Publisher fast = bus.publisher("t");

  Result<Claim> claim = slow.claim(4);
  ASSERT_TRUE(claim);
  ASSERT_TRUE(fast.publish("second"));
  EXPECT_EQ(drain(sut).size(), 0u);
  std::memcpy(claim->payload().data(), "frst", 4);
  ASSERT_TRUE(slow.commit(*claim));
  std::vector<Got> got = drain(sut);

  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].payload, "frst");
  EXPECT_EQ(got[1].payload, "second");
}

TEST(PubSub, RecordsWrapAroundTheRing) {
  TempBus tb;
  Bus bus = tb.open();
  TopicConfig config = test::ring_config(4096);
  bus.create_topic("t", config);
  Subscription sut = bus.subscribe("t");
  Publisher pub = bus.publisher("t");

  std::vector<std::string> all;
  for (int i = 0; i < 1000; ++i) {
    std::string payload(static_cast<size_t>(i % 97), static_cast<char>('a' + i % 26));
    ASSERT_TRUE(pub.publish(payload));
    for (const Got& g : drain(sut)) all.push_back(g.payload);
  }

  ASSERT_EQ(all.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(all[i].size(), static_cast<size_t>(i % 97));
}

TEST(PubSub, FailPolicyReturnsWouldBlockWhenFull) {
  TempBus tb;
  Bus bus = tb.open();
  TopicConfig config = test::ring_config(4096, Policy::kFail);
  bus.create_topic("t", config);
  Subscription sub = bus.subscribe("t");
  Publisher sut = bus.publisher("t");

  int published = 0;
  Result<uint64_t> r = sut.publish(std::string(100, 'x'));
  while (r) {
    ++published;
    r = sut.publish(std::string(100, 'x'));
  }

  EXPECT_EQ(r.error(), Errc::kWouldBlock);
  EXPECT_GT(published, 20);
  EXPECT_EQ(drain(sub).size(), static_cast<size_t>(published));
  EXPECT_TRUE(sut.publish(std::string(100, 'x')));
}

TEST(PubSub, TooLargeRecordIsRefused) {
  TempBus tb;
  Bus bus = tb.open();
  TopicConfig config = test::ring_config(4096);
  bus.create_topic("t", config);
  Publisher sut = bus.publisher("t");

  Result<uint64_t> r = sut.publish(std::string(sut.max_payload() + 1, 'x'));

  EXPECT_EQ(r.error(), Errc::kTooLarge);
  EXPECT_TRUE(sut.publish(std::string(sut.max_payload(), 'x')));
}

TEST(PubSub, StartEarliestReplaysRetainedRecords) {
  TempBus tb;
  Bus bus = tb.open();
  Publisher pub = bus.publisher("t");
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(pub.publish(std::to_string(i)));

  Subscription sut = bus.subscribe("t", {StartAt::earliest()});
  std::vector<Got> got = drain(sut);

  ASSERT_EQ(got.size(), 10u);
  EXPECT_EQ(got[0].payload, "0");
}

TEST(PubSub, StartLatestSkipsOldRecords) {
  TempBus tb;
  Bus bus = tb.open();
  Publisher pub = bus.publisher("t");
  ASSERT_TRUE(pub.publish("old"));

  Subscription sut = bus.subscribe("t", {StartAt::latest()});
  ASSERT_TRUE(pub.publish("new"));
  std::vector<Got> got = drain(sut);

  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "new");
}

TEST(PubSub, StartAtPositionBeginsThere) {
  TempBus tb;
  Bus bus = tb.open();
  Publisher pub = bus.publisher("t");
  ASSERT_TRUE(pub.publish("a"));
  Result<uint64_t> b = pub.publish("b");
  ASSERT_TRUE(pub.publish("c"));
  ASSERT_TRUE(b);

  Subscription sut = bus.subscribe("t", {StartAt::at(*b)});
  std::vector<Got> got = drain(sut);

  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].payload, "b");
}

TEST(PubSub, StartAtBogusPositionThrows) {
  TempBus tb;
  Bus bus = tb.open();
  Publisher pub = bus.publisher("t");
  ASSERT_TRUE(pub.publish("a"));

  EXPECT_THROW(bus.subscribe("t", {StartAt::at(1u << 30)}), Error);
  EXPECT_THROW(bus.subscribe("t", {StartAt::at(3)}), Error);
}

TEST(PubSub, EverySubscriberSeesEveryRecord) {
  TempBus tb;
  Bus bus = tb.open();
  Subscription a = bus.subscribe("t");
  Subscription b = bus.subscribe("t");
  Publisher pub = bus.publisher("t");

  for (int i = 0; i < 50; ++i) ASSERT_TRUE(pub.publish("x"));

  EXPECT_EQ(drain(a).size(), 50u);
  EXPECT_EQ(drain(b).size(), 50u);
}

TEST(PubSub, WaitTimesOutWhenNothingArrives) {
  TempBus tb;
  Bus bus = tb.open();
  Subscription sut = bus.subscribe("t");

  Result<void> r = sut.wait(20ms);

  EXPECT_EQ(r.error(), Errc::kTimeout);
}

TEST(PubSub, BlockingWaitWakesOnPublish) {
  TempBus tb;
  Bus bus = tb.open();
  Subscription sut = bus.subscribe("t", {StartAt::latest(), WaitStrategy::kBlock});
  std::thread publisher([&] {
    Publisher pub = bus.publisher("t");
    std::this_thread::sleep_for(20ms);
    (void)pub.publish("wake");
  });

  std::string got;
  Result<size_t> n = sut.receive([&](const Message& m) { got = std::string(m.text()); }, 1, 10s);
  publisher.join();

  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(got, "wake");
}

TEST(PubSub, SpinningReceiveDeliversOrReturnsEmptyAtItsDeadline) {
  TempBus tb;
  Bus bus = tb.open();
  Subscription sut = bus.subscribe("t", {StartAt::latest(), WaitStrategy::kSpin});
  const auto start = std::chrono::steady_clock::now();
  Result<size_t> empty = sut.receive([](const Message&) {}, 1, 50ms);
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(empty);
  EXPECT_EQ(*empty, 0u);
  EXPECT_GE(waited, 50ms) << "a spinning receive must not give up before its deadline";

  Publisher pub = bus.publisher("t");
  ASSERT_TRUE(pub.publish("spun"));
  std::string got;
  Result<size_t> one = sut.receive([&](const Message& m) { got = std::string(m.text()); }, 1, 10s);
  ASSERT_TRUE(one);
  EXPECT_EQ(*one, 1u);
  EXPECT_EQ(got, "spun");
}

TEST(PubSub, StatsCountPublishedRecords) {
  TempBus tb;
  Bus bus = tb.open();
  Publisher pub = bus.publisher("t");
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(pub.publish("12345"));

  TopicStats s = bus.stats("t");

  EXPECT_EQ(s.published, 7u);
  EXPECT_EQ(s.bytes, 35u);
  EXPECT_EQ(s.publishers, 1u);
}

}  // namespace
}  // namespace shmbus
