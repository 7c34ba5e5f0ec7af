// Queues on memory topics: the queue's consumers hold the ring's publishers behind the oldest
// record the queue still needs; a lap the queue was not there for is counted lost; an overwrite
// ring is passed over; a consumer killed -9 gives its delivery back and stops holding the ring.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "shmbus/shmbus.h"
#include "support/test_bus.h"

namespace shmbus {
namespace {

using namespace std::chrono_literals;
using test::TempBus;

QueueConfig bound_to(std::string pattern) {
  QueueConfig c;
  c.bindings = {std::move(pattern)};
  c.retry.min = 5ms;
  c.retry.max = 20ms;
  return c;
}

// A publisher process streams 20,000 records through a ring that holds a few hundred: it waits
// for the queue (block policy), and every record is acked once, in order, none lost.
TEST(MemoryQueue, HoldsTheRingsPublishersUntilTheQueueHasSettledTheirRecords) {
  constexpr int kRecords = 20'000;
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("ticks", test::ring_config(32 << 10, Policy::kBlock));
  Queue queue = bus.create_queue("ticker", bound_to("ticks"));
  Consumer c = queue.consumer({.prefetch = 16});
  const pid_t publisher = test::spawn([&] {
    Bus b = Bus::open(tb.path());
    Publisher p = b.publisher("ticks");
    const std::string filler(90, 'x');
    for (int i = 0; i < kRecords; ++i) {
      if (!p.publish(std::to_string(i) + ":" + filler)) return 1;
    }
    return 0;
  });
  int next = 0;
  bool in_order = true;
  for (auto until = std::chrono::steady_clock::now() + 120s; next < kRecords && std::chrono::steady_clock::now() < until;) {
    Result<Delivery> d = c.receive(100ms);
    if (!d) continue;
    const std::string text(d->message().text());
    in_order &= std::stoi(text.substr(0, text.find(':'))) == next;
    ++next;
    ASSERT_TRUE(c.ack(*d).has_value());
  }
  EXPECT_EQ(test::wait_child(publisher), 0);
  EXPECT_EQ(next, kRecords);
  EXPECT_TRUE(in_order);
  const QueueStats s = queue.stats();
  EXPECT_EQ(s.acked, static_cast<uint64_t>(kRecords));
  EXPECT_EQ(s.lost, 0u);
  EXPECT_EQ(s.topics, std::vector<std::string>{"ticks"});
}

// Records published while the queue had no consumer hold nothing back: a lap later they are
// overwritten, and the queue counts them lost when a consumer comes (it goes on at the tail:
// the lap's survivors count lost too). Nothing is counted twice.
TEST(MemoryQueue, ALapWithoutConsumersIsCountedLost) {
  constexpr int kRecords = 2'000;
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("ticks", test::ring_config(16 << 10, Policy::kBlock));
  Queue queue = bus.create_queue("ticker", bound_to("ticks"));
  Publisher p = bus.publisher("ticks");
  for (int i = 0; i < kRecords; ++i) ASSERT_TRUE(p.publish(std::to_string(i) + std::string(60, 'y')));
  Consumer c = queue.consumer();
  uint64_t got = 0;
  for (;;) {
    Result<Delivery> d = c.receive(300ms);
    if (!d) break;
    ++got;
    ASSERT_TRUE(c.ack(*d).has_value());
  }
  const QueueStats s = queue.stats();
  EXPECT_GT(s.lost, 0u);
  EXPECT_EQ(s.acked, got);
  // And what comes next is the queue's again.
  ASSERT_TRUE(p.publish("after"));
  Result<Delivery> after = c.receive(5s);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->message().text(), "after");
  ASSERT_TRUE(c.ack(*after).has_value());
  ++got;
  EXPECT_EQ(s.acked + s.lost, static_cast<uint64_t>(kRecords));
  EXPECT_EQ(s.ready + s.in_flight, 0u);
  EXPECT_EQ(queue.stats().acked, got);
}

TEST(MemoryQueue, AnOverwriteRingIsPassedOver) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("quotes", test::ring_config(16 << 10, Policy::kOverwrite));
  bus.create_topic("ticks", test::ring_config(16 << 10, Policy::kBlock));
  Queue queue = bus.create_queue("ticker", bound_to("#"));
  EXPECT_EQ(queue.stats().topics, std::vector<std::string>{"ticks"});
}

// A consumer killed -9 while handling: the delivery comes back with attempt 2, and its
// subscriber slot (dead) no longer holds the ring's publishers.
TEST(MemoryQueue, AKilledConsumersDeliveryComesBackAndItNoLongerHoldsTheRing) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("jobs", test::ring_config(4096, Policy::kBlock));
  Queue queue = bus.create_queue("workers", bound_to("jobs"));
  Publisher p = bus.publisher("jobs");
  ASSERT_TRUE(p.publish("first"));
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t victim = test::spawn([&] {
    Bus b = Bus::open(tb.path());
    Consumer c = b.queue("workers").consumer();
    Result<Delivery> d = c.receive(10s);
    if (!d) return 1;
    char x = 1;
    if (::write(ready[1], &x, 1) != 1) return 2;
    for (;;) ::pause();
    return 0;
  });
  char x;
  ASSERT_EQ(::read(ready[0], &x, 1), 1);
  ::kill(victim, SIGKILL);
  EXPECT_EQ(test::wait_child(victim), 128 + SIGKILL);
  Consumer c = queue.consumer();
  Result<Delivery> d = c.receive(10s);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->message().text(), "first");
  EXPECT_EQ(d->attempt(), 2u);
  ASSERT_TRUE(c.ack(*d).has_value());
  // Several laps of records: the dead consumer's slot must not hold the publisher (a blocked
  // publisher evicts dead subscribers), ours holds it only until we settle.
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(p.publish(std::string(100, 'z')));
    Result<Delivery> got = c.receive(5s);
    ASSERT_TRUE(got.has_value()) << i;
    ASSERT_TRUE(c.ack(*got).has_value());
  }
  EXPECT_EQ(queue.stats().lost, 0u);
}

}  // namespace
}  // namespace shmbus
