// Queue options: header filter, dedup window, TTL (expires-at), delayed delivery (not-before)
// and its cancellation, per-key ordering with parking, single-active consumers; the envelope's
// time form. Multi-process where the option is about processes (ordering, failover).
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "shmbus/envelope.h"
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

std::string in(std::chrono::milliseconds from_now) {
  return envelope::format_time(std::chrono::system_clock::now() + from_now);
}

// Receives and acks until nothing comes for `quiet`; the payloads in order.
std::vector<std::string> drain(Consumer& c, std::chrono::milliseconds quiet = 300ms) {
  std::vector<std::string> got;
  for (;;) {
    Result<Delivery> d = c.receive(quiet);
    if (!d) return got;
    got.push_back(text_of(*d));
    EXPECT_TRUE(c.ack(*d).has_value());
  }
}

TEST(Envelope, TimesRoundTripInRfc3339AndReadUnixMilliseconds) {
  const auto t = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'764'590'400'123));
  EXPECT_EQ(envelope::format_time(t), "2025-12-01T12:00:00.123Z");
  EXPECT_EQ(envelope::parse_time_ns("2025-12-01T12:00:00.123Z"), 1'764'590'400'123'000'000);
  EXPECT_EQ(envelope::parse_time_ns("2025-12-01T12:00:00Z"), 1'764'590'400'000'000'000);
  EXPECT_EQ(envelope::parse_time_ns("2025-12-01T12:00:00.123456789+00:00"), 1'764'590'400'123'456'789);
  EXPECT_EQ(envelope::parse_time_ns("1764590400123"), 1'764'590'400'123'000'000);
  EXPECT_EQ(envelope::format_time(std::chrono::system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(envelope::parse_time_ns("2024-02-29T23:59:59.999Z"),
            envelope::parse_time_ns("2024-03-01T00:00:00Z").value() - 1'000'000);
  for (const char* bad : {"", "tomorrow", "2025-13-01T00:00:00Z", "2025-12-01T12:00:00+01:00", "2025-12-01 12:00",
                          "12:00:00", "99999999999999999999"}) {
    EXPECT_FALSE(envelope::parse_time_ns(bad).has_value()) << bad;
  }
}

TEST(QueueOptions, HeaderFilterTakesOnlyMatchingRecordsAndCountsTheRestSkipped) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("orders", journal());
  QueueConfig config = bound_to("orders");
  config.filter = "x-match=any,type=OrderPlaced@2,priority";
  Queue queue = bus.create_queue("placed", config);
  Publisher pub = bus.publisher("orders");
  const Header placed[] = {{"type", "OrderPlaced@2"}};
  const Header cancelled[] = {{"type", "OrderCancelled@1"}};
  const Header urgent[] = {{"type", "OrderCancelled@1"}, {"priority", "high"}};
  ASSERT_TRUE(pub.publish("a", placed));
  ASSERT_TRUE(pub.publish("b", cancelled));
  ASSERT_TRUE(pub.publish("c", urgent));
  ASSERT_TRUE(pub.publish("d"));
  Consumer c = queue.consumer();
  EXPECT_EQ(drain(c), (std::vector<std::string>{"a", "c"}));
  const QueueStats s = queue.stats();
  EXPECT_EQ(s.acked, 2u);
  EXPECT_EQ(s.skipped, 2u);
  EXPECT_EQ(s.config.filter, config.filter);
  EXPECT_THROW(bus.create_queue("bad", [] {
    QueueConfig b = bound_to("orders");
    b.filter = "x-match=some";
    return b;
  }()), Error);
}

TEST(QueueOptions, DedupWindowDropsARepeatedMessageIdButLetsAReplayThrough) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("payments", journal());
  QueueConfig config = bound_to("payments");
  config.dedup_window = 10min;
  Queue queue = bus.create_queue("ledger", config);
  Publisher pub = bus.publisher("payments");
  const Header first[] = {{"message-id", "pay-1"}};
  const Header other[] = {{"message-id", "pay-2"}};
  const Header replay[] = {{"message-id", "pay-1"}, {"x-replayed", "1"}};
  ASSERT_TRUE(pub.publish("one", first));
  ASSERT_TRUE(pub.publish("one again", first));  // a retrying producer
  ASSERT_TRUE(pub.publish("two", other));
  ASSERT_TRUE(pub.publish("one once more", first));
  ASSERT_TRUE(pub.publish("no id"));
  ASSERT_TRUE(pub.publish("one, replayed", replay));
  Consumer c = queue.consumer();
  EXPECT_EQ(drain(c), (std::vector<std::string>{"one", "two", "no id", "one, replayed"}));
  EXPECT_EQ(queue.stats().deduplicated, 2u);
}

TEST(QueueOptions, ExpiredRecordsAreDeadLetteredOrDroppedAsTheQueueSays) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("quotes", journal());
  Queue dead_letters = bus.create_queue("pricing", bound_to("quotes"));
  QueueConfig drop = bound_to("quotes");
  drop.expired = ExpiredAction::kDrop;
  Queue dropping = bus.create_queue("display", drop);
  Publisher pub = bus.publisher("quotes");
  const std::string past = in(-1s), future = in(1h);
  const Header stale[] = {{"expires-at", past}, {"message-id", "q-1"}};
  const Header fresh[] = {{"expires-at", future}};
  ASSERT_TRUE(pub.publish("stale", stale));
  ASSERT_TRUE(pub.publish("fresh", fresh));
  Consumer c = dead_letters.consumer();
  EXPECT_EQ(drain(c), std::vector<std::string>{"fresh"});
  Consumer d = dropping.consumer();
  EXPECT_EQ(drain(d), std::vector<std::string>{"fresh"});
  const QueueStats s = dead_letters.stats();
  EXPECT_EQ(s.expired, 1u);
  EXPECT_EQ(s.dead_lettered, 1u);
  EXPECT_EQ(s.dlq_depth, 1u);
  EXPECT_EQ(dropping.stats().expired, 1u);
  EXPECT_EQ(dropping.stats().dlq_depth, 0u);
  Subscription dlq = bus.subscribe("pricing.dlq", {StartAt::earliest()});
  std::optional<std::string> reason, id;
  (void)dlq.receive([&](const Message& m) {
    if (auto r = m.headers.find("x-death-reason")) reason = std::string(*r);
    if (auto i = m.headers.find("message-id")) id = std::string(*i);
  }, 1, 5s);
  EXPECT_EQ(reason, "expired");
  EXPECT_EQ(id, "q-1");
}

TEST(QueueOptions, NotBeforeHoldsARecordBackUnchargedAndCancelRemovesOne) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("reminders", journal());
  Queue queue = bus.create_queue("mailer", bound_to("reminders"));
  Publisher pub = bus.publisher("reminders");
  const std::string soon = in(400ms), later = in(600ms);
  const Header delayed[] = {{"not-before", soon}, {"message-id", "r-1"}};
  const Header cancelled[] = {{"not-before", later}, {"message-id", "r-2"}};
  ASSERT_TRUE(pub.publish("delayed", delayed));
  ASSERT_TRUE(pub.publish("cancelled", cancelled));
  ASSERT_TRUE(pub.publish("now"));
  Consumer c = queue.consumer();
  Result<Delivery> first = c.receive(5s);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(text_of(*first), "now");
  ASSERT_TRUE(c.ack(*first).has_value());
  EXPECT_EQ(c.try_receive().error(), Errc::kTimeout) << "a delayed record showed before its time";
  QueueStats s = queue.stats();
  EXPECT_EQ(s.delayed, 2u);
  EXPECT_EQ(queue.cancel("r-2"), 1u);
  EXPECT_EQ(queue.cancel("r-2"), 0u);
  Result<Delivery> held = c.receive(10s);
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(text_of(*held), "delayed");
  EXPECT_EQ(held->attempt(), 1u) << "a delay is no failed attempt";
  EXPECT_GE(std::chrono::system_clock::now().time_since_epoch(),
            std::chrono::nanoseconds(*envelope::parse_time_ns(soon)));
  ASSERT_TRUE(c.ack(*held).has_value());
  EXPECT_EQ(drain(c, 800ms), std::vector<std::string>{}) << "the cancelled record was delivered";
  s = queue.stats();
  EXPECT_EQ(s.redelivered, 0u);
  EXPECT_EQ(s.acked, 2u);
  EXPECT_EQ(s.delayed, 0u);
}

// Key A's first record fails and waits for a long retry: A's later records park, B's flow.
TEST(QueueOptions, AKeyWaitingForARetryParksItsLaterRecordsWhileOtherKeysFlow) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("accounts", journal());
  QueueConfig config = bound_to("accounts");
  config.ordering_key = "key";
  Queue queue = bus.create_queue("balances", config);
  Publisher pub = bus.publisher("accounts");
  const Header a[] = {{"key", "A"}};
  const Header b[] = {{"key", "B"}};
  ASSERT_TRUE(pub.publish("A1", a));
  ASSERT_TRUE(pub.publish("A2", a));
  ASSERT_TRUE(pub.publish("B1", b));
  ASSERT_TRUE(pub.publish("A3", a));
  ASSERT_TRUE(pub.publish("B2", b));
  Consumer c = queue.consumer();
  Result<Delivery> a1 = c.receive(5s);
  ASSERT_TRUE(a1.has_value());
  ASSERT_EQ(text_of(*a1), "A1");
  ASSERT_TRUE(c.nack(*a1, 700ms).has_value());
  Result<Delivery> b1 = c.receive(5s);
  ASSERT_TRUE(b1.has_value());
  EXPECT_EQ(text_of(*b1), "B1");
  // B2 may not be taken while B1 is in flight.
  EXPECT_EQ(c.try_receive().error(), Errc::kTimeout);
  ASSERT_TRUE(c.ack(*b1).has_value());
  Result<Delivery> b2 = c.receive(5s);
  ASSERT_TRUE(b2.has_value());
  EXPECT_EQ(text_of(*b2), "B2");
  ASSERT_TRUE(c.ack(*b2).has_value());
  const QueueStats s = queue.stats();
  EXPECT_EQ(s.parked, 2u);       // A2, A3
  EXPECT_EQ(s.parked_keys, 1u);  // A
  EXPECT_EQ(drain(c, 2s), (std::vector<std::string>{"A1", "A2", "A3"}));
}

// Four consumer processes, 1,000 keys, failures at random: per key, the order of first
// successful handling is the publish order.
TEST(QueueOptions, PerKeyOrderHoldsAcrossFourConsumerProcessesWithRandomFailures) {
  constexpr int kKeys = 1000, kPerKey = 5, kConsumers = 4;
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("ledger", journal());
  QueueConfig config = bound_to("ledger");
  config.ordering_key = "key";
  config.retry.min = 1ms;
  config.retry.max = 20ms;
  Queue queue = bus.create_queue("apply", config);
  Subscription handled = [&] {
    bus.create_topic("handled", journal());
    return bus.subscribe("handled", {StartAt::earliest()});
  }();
  std::vector<pid_t> consumers;
  for (int i = 0; i < kConsumers; ++i) {
    consumers.push_back(test::spawn([&, i] {
      Bus b = Bus::open(tb.path());
      Consumer c = b.queue("apply").consumer({.prefetch = 8});
      Publisher out = b.publisher("handled");
      std::mt19937 rng(static_cast<unsigned>(i) * 7919u + 1);
      for (auto idle_until = std::chrono::steady_clock::now() + 20s; std::chrono::steady_clock::now() < idle_until;) {
        Result<Delivery> d = c.receive(50ms);
        if (!d) continue;
        idle_until = std::chrono::steady_clock::now() + 3s;
        if (rng() % 5 == 0) {  // a failed attempt
          (void)c.nack(*d);
          continue;
        }
        if (!out.publish(d->message().payload)) return 1;
        if (!c.ack(*d)) return 2;
      }
      return 0;
    }));
  }
  Publisher pub = bus.publisher("ledger");
  for (int n = 0; n < kPerKey; ++n) {
    for (int k = 0; k < kKeys; ++k) {
      const std::string key = std::to_string(k);
      const Header h[] = {{"key", key}};
      ASSERT_TRUE(pub.publish(key + ":" + std::to_string(n), h));
    }
  }
  for (pid_t p : consumers) EXPECT_EQ(test::wait_child(p, 180s), 0);
  std::map<std::string, int> next;
  bool in_order = true;
  size_t total = 0;
  (void)handled.poll([&](const Message& m) {
    const std::string text(m.text());
    const size_t colon = text.find(':');
    int& expected = next[text.substr(0, colon)];
    in_order &= std::stoi(text.substr(colon + 1)) == expected;
    ++expected;
    ++total;
  }, 1 << 20);
  EXPECT_TRUE(in_order);
  EXPECT_EQ(total, static_cast<size_t>(kKeys * kPerKey));
  EXPECT_EQ(queue.stats().acked, static_cast<uint64_t>(kKeys * kPerKey));
}

// Only one consumer takes deliveries; when its process is killed, the other takes over.
TEST(QueueOptions, SingleActiveConsumerFailsOverWhenTheActiveOneIsKilled) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("jobs", journal());
  QueueConfig config = bound_to("jobs");
  config.single_active = true;
  Queue queue = bus.create_queue("serial", config);
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t active = test::spawn([&] {
    Bus b = Bus::open(tb.path());
    Consumer c = b.queue("serial").consumer();
    Result<Delivery> d = c.receive(30s);
    if (!d) return 1;
    if (!c.ack(*d)) return 2;
    char x = 1;
    if (::write(ready[1], &x, 1) != 1) return 3;
    for (;;) ::pause();  // active, idle
    return 0;
  });
  // Made after the fork: a journal publisher runs a thread, and a fork from a threaded parent
  // may deadlock in the sanitizers' allocator.
  Publisher pub = bus.publisher("jobs");
  ASSERT_TRUE(pub.publish("first"));
  char x;
  ASSERT_EQ(::read(ready[0], &x, 1), 1);
  Consumer standby = queue.consumer();
  ASSERT_TRUE(pub.publish("second"));
  EXPECT_EQ(standby.receive(300ms).error(), Errc::kTimeout) << "the standby took a delivery while the active one lives";
  ::kill(active, SIGKILL);
  EXPECT_EQ(test::wait_child(active), 128 + SIGKILL);
  Result<Delivery> d = standby.receive(10s);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(text_of(*d), "second");
}

}  // namespace
}  // namespace shmbus
