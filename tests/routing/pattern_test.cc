#include <gtest/gtest.h>

#include "shmbus/shmbus.h"
#include "support/test_bus.h"

namespace shmbus {
namespace {

using namespace std::chrono_literals;

TEST(Pattern, MatchesLikeAmqpTopicExchange) {
  struct Case { const char* pattern; const char* topic; bool match; };
  const Case cases[] = {
      {"orders.*.created", "orders.eu.created", true}, {"orders.*.created", "orders.created", false},
      {"orders.#", "orders", true},                    {"orders.#", "orders.eu.created", true},
      {"#", "a.b.c", true},                            {"#.created", "orders.eu.created", true},
      {"a.#.z", "a.z", true},                          {"a.#.z", "a.b.c.z", true},
      {"a.#.z", "a.b.c", false},                       {"exact.name", "exact.name", true},
      {"exact.name", "exact.names", false},            {"*", "a.b", false},
  };
  for (const Case& c : cases) EXPECT_EQ(pattern_matches(c.pattern, c.topic), c.match) << c.pattern << " " << c.topic;
}

TEST(Pattern, SubscriberSeesTopicCreatedAfterSubscribing) {
  test::TempBus tb;
  Bus bus = tb.open();
  Publisher existing = bus.publisher("orders.eu.created");
  Subscription sut = bus.subscribe("orders.*.created");
  ASSERT_EQ(sut.topic_count(), 1u);

  pid_t child = test::spawn([&] {
    Bus b = Bus::open(tb.path());
    Publisher p = b.publisher("orders.us.created");
    return p.publish("from a new topic") ? 0 : 1;
  });
  ASSERT_EQ(test::wait_child(child), 0);
  std::string topic, text;
  Result<size_t> n = sut.receive([&](const Message& m) { topic = m.topic; text = m.text(); }, 1, 5s);

  ASSERT_TRUE(n);
  ASSERT_EQ(*n, 1u);
  EXPECT_EQ(topic, "orders.us.created");
  EXPECT_EQ(text, "from a new topic");
  EXPECT_EQ(sut.topic_count(), 2u);
}

TEST(Pattern, NonMatchingTopicIsIgnored) {
  test::TempBus tb;
  Bus bus = tb.open();
  Subscription sut = bus.subscribe("orders.#");
  Publisher other = bus.publisher("billing.paid");
  ASSERT_TRUE(other.publish("x"));

  Result<size_t> n = sut.receive([](const Message&) {}, 1, 50ms);

  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);
  EXPECT_EQ(sut.topic_count(), 0u);
}

}  // namespace
}  // namespace shmbus
