// The settlement verbs the CLI and Python need beyond ack/nack/reject (release, a nack's error
// text), dead letters that die again after a replay, the handled-dead-letters cursor, and the
// QueueStats field table.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "shmbus/shmbus.h"
#include "support/queue_support.h"
#include "support/test_bus.h"

namespace shmbus {
namespace {

using namespace std::chrono_literals;
using test::TempBus;
using test::text_of;

TopicConfig journal() { return test::small_journal(); }
QueueConfig bound_to(std::string pattern, uint32_t max_deliveries = 10) {
  return test::queue_bound_to(std::move(pattern), max_deliveries);
}

// The first dead letter of `queue`, or fails the test.
std::vector<std::pair<std::string, std::string>> dead_letter_headers(Bus& bus, const std::string& queue) {
  Subscription dlq = bus.subscribe(dead_letter_topic(queue), StartAt::earliest());
  Result<Sample> dead = dlq.receive(2s);
  EXPECT_TRUE(dead.has_value());
  std::vector<std::pair<std::string, std::string>> out;
  if (!dead) return out;
  for (Header h : dead->message().headers) out.emplace_back(std::string(h.key), std::string(h.value));
  return out;
}

std::string find(const std::vector<std::pair<std::string, std::string>>& headers, const std::string& key) {
  for (const auto& [k, v] : headers) {
    if (k == key) return v;
  }
  return "<none>";
}

TEST(ConsumerRelease, GivesTheDeliveryBackUnchargedToAnyConsumerAtOnce) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("jobs", journal());
  Queue queue = bus.create_queue("workers", bound_to("jobs"));
  ASSERT_TRUE(bus.publisher("jobs").publish("job"));
  Consumer first = queue.consumer();
  Consumer sut = queue.consumer();
  Result<Delivery> d = first.receive(2s);
  ASSERT_TRUE(d.has_value());

  ASSERT_TRUE(first.release(*d).has_value());

  EXPECT_EQ(first.held(), 0u);
  Result<Delivery> again = sut.receive(2s);
  ASSERT_TRUE(again.has_value()) << to_string(again.error());
  EXPECT_EQ(again->attempt(), 1u);
  EXPECT_EQ(again->message().text(), "job");
  EXPECT_TRUE(sut.ack(*again).has_value());
}

TEST(ConsumerRelease, OfASettledDeliveryIsRefusedAndChangesNothing) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("jobs", journal());
  Queue queue = bus.create_queue("workers", bound_to("jobs"));
  ASSERT_TRUE(bus.publisher("jobs").publish("job"));
  Consumer sut = queue.consumer();
  Result<Delivery> d = sut.receive(2s);
  ASSERT_TRUE(d.has_value());
  ASSERT_TRUE(sut.ack(*d).has_value());

  EXPECT_EQ(sut.release(*d).error(), Errc::kInvalidArgument);

  EXPECT_EQ(sut.try_receive().error(), Errc::kTimeout);
  EXPECT_EQ(queue.stats().acked, 1u);
}

TEST(ConsumerNack, AtTheLimitDeadLettersWithTheErrorTextGiven) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("jobs", journal());
  Queue queue = bus.create_queue("workers", bound_to("jobs", 1));
  ASSERT_TRUE(bus.publisher("jobs").publish("job"));
  Consumer sut = queue.consumer();
  Result<Delivery> d = sut.receive(2s);
  ASSERT_TRUE(d.has_value());

  ASSERT_TRUE(sut.nack(*d, {}, "exit status 3: disk full").has_value());

  const auto headers = dead_letter_headers(bus, "workers");
  EXPECT_EQ(find(headers, "x-death-reason"), "delivery_limit");
  EXPECT_EQ(find(headers, "x-death-error"), "exit status 3: disk full");
}

TEST(DeadLetter, ARecordThatDiedBeforeCountsOnAndKeepsItsFirstDeathTime) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("jobs", journal());
  Queue queue = bus.create_queue("workers", bound_to("jobs"));
  // What `shmbus dlq replay` publishes: the dead letter's own count and first time kept.
  const Header replayed[] = {{"message-id", "m-7"}, {"x-death-count", "2"}, {"x-first-death-time", "1700000000"}};
  ASSERT_TRUE(bus.publisher("jobs").publish("again", replayed));
  Consumer sut = queue.consumer();
  Result<Delivery> d = sut.receive(2s);
  ASSERT_TRUE(d.has_value());

  ASSERT_TRUE(sut.reject(*d, "still bad").has_value());

  const auto headers = dead_letter_headers(bus, "workers");
  EXPECT_EQ(find(headers, "x-death-count"), "3");
  EXPECT_EQ(find(headers, "x-first-death-time"), "1700000000");
  EXPECT_NE(find(headers, "x-last-death-time"), "1700000000");
  EXPECT_EQ(find(headers, "message-id"), "m-7");
}

TEST(DeadLetter, DepthCountsOnlyTheRecordsPastTheHandledCursor) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("jobs", journal());
  Queue queue = bus.create_queue("workers", bound_to("jobs"));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(bus.publisher("jobs").publish("bad " + std::to_string(i)));
  Consumer sut = queue.consumer();
  for (int i = 0; i < 3; ++i) {
    Result<Delivery> d = sut.receive(2s);
    ASSERT_TRUE(d.has_value());
    ASSERT_TRUE(sut.reject(*d).has_value());
  }
  ASSERT_EQ(queue.stats().dlq_depth, 3u);

  bus.set_cursor(dead_letter_topic("workers"), kDeadLetterCursor, StartAt::latest());

  EXPECT_EQ(queue.stats().dlq_depth, 0u);
  EXPECT_EQ(queue.stats().dead_lettered, 3u);
}

TEST(QueueStatsFields, ListEveryMemberOnceInTheTablesOrder) {
  QueueStats s;
  s.name = "q";
  s.config.bindings = {"a.#"};
  s.acked = 7;
  std::vector<std::string> names;
  uint64_t acked = 0;

  for_each_field(s, [&](const StatField& f, const auto& value) {
    names.emplace_back(f.name);
    if constexpr (std::is_same_v<std::decay_t<decltype(value)>, uint64_t>) {
      if (f.name == "acked") acked = value;
    }
  });

  // 29 = the members of QueueStats and QueueConfig: a member added there needs its row here.
  const std::vector<std::string> expected = {
      "name",     "bindings",  "max_deliveries", "lease",        "retry",         "filter",         "ordering_key",
      "single_active", "dedup_window", "expired_action", "ready", "in_flight",     "scheduled",      "consumers",
      "acked",    "nacked",    "redelivered",    "dead_lettered", "skipped",      "delayed",        "parked",
      "parked_keys", "expired", "deduplicated", "lost", "oldest_ready_ns", "oldest_ready_age", "dlq_depth",  "topics"};
  EXPECT_EQ(names, expected);
  EXPECT_EQ(acked, 7u);
}

}  // namespace
}  // namespace shmbus
