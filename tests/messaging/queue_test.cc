// Durable queues in one process: delivery to one consumer, acks, nacks with backoff, dead
// letters, leases and fencing, bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <algorithm>
#include <stdexcept>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/process_identity.h"
#include "messaging/queue_state.h"
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

TEST(Queue, DeliversEachRecordOnceInOrderAndCountsAcks) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("jobs.resize", journal());
  Queue queue = bus.create_queue("resizer", bound_to("jobs.*"));
  Publisher pub = bus.publisher("jobs.resize");
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(pub.publish("job " + std::to_string(i)));
  Consumer sut = queue.consumer();

  std::vector<std::string> got;
  for (int i = 0; i < 10; ++i) {
    Result<Delivery> d = sut.receive(2s);
    ASSERT_TRUE(d.has_value()) << to_string(d.error());
    EXPECT_EQ(d->attempt(), 1u);
    got.push_back(text_of(*d));
    ASSERT_TRUE(sut.ack(*d).has_value());
  }

  for (int i = 0; i < 10; ++i) EXPECT_EQ(got[i], "job " + std::to_string(i));
  EXPECT_EQ(sut.try_receive().error(), Errc::kTimeout);
  const QueueStats s = queue.stats();
  EXPECT_EQ(s.acked, 10u);
  EXPECT_EQ(s.ready, 0u);
  EXPECT_EQ(s.in_flight, 0u);
}

TEST(Queue, RecordsPublishedBeforeTheQueueExistedAreNotItsOwn) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("jobs", journal());
  ASSERT_TRUE(bus.publisher("jobs").publish("before"));
  Queue queue = bus.create_queue("workers", bound_to("jobs"));
  ASSERT_TRUE(bus.publisher("jobs").publish("after"));
  Consumer sut = queue.consumer();

  Result<Delivery> d = sut.receive(2s);

  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(text_of(*d), "after");
}

TEST(Queue, TopicCreatedLaterIsBoundFromItsFirstRecord) {
  TempBus tb;
  Bus bus = tb.open();
  Queue queue = bus.create_queue("audit", bound_to("audit.#"));
  Consumer sut = queue.consumer();
  bus.create_topic("audit.login", journal());
  ASSERT_TRUE(bus.publisher("audit.login").publish("alice"));

  Result<Delivery> d = sut.receive(5s);

  ASSERT_TRUE(d.has_value()) << to_string(d.error());
  EXPECT_EQ(text_of(*d), "alice");
  EXPECT_EQ(d->message().topic, "audit.login");
}

TEST(Queue, CompetingConsumersEachGetDifferentRecords) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("jobs", journal());
  Queue queue = bus.create_queue("workers", bound_to("jobs"));
  Publisher pub = bus.publisher("jobs");
  constexpr int kCount = 2000;
  for (int i = 0; i < kCount; ++i) ASSERT_TRUE(pub.publish(std::to_string(i)));
  std::vector<std::set<std::string>> seen(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      Consumer c = queue.consumer();
      for (;;) {
        Result<Delivery> d = c.receive(300ms);
        if (!d) break;
        seen[t].insert(text_of(*d));
        if (!c.ack(*d)) break;
      }
    });
  }
  for (auto& t : threads) t.join();

  std::set<std::string> all = seen[0];
  all.insert(seen[1].begin(), seen[1].end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kCount));
  EXPECT_EQ(seen[0].size() + seen[1].size(), static_cast<size_t>(kCount)) << "a record went to both";
  EXPECT_EQ(queue.stats().acked, static_cast<uint64_t>(kCount));
}

TEST(Queue, NackRedeliversAfterTheBackoffWithTheNextAttempt) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("jobs", journal());
  QueueConfig config = bound_to("jobs");
  config.retry.min = 50ms;
  config.retry.jitter = 0;
  Queue queue = bus.create_queue("workers", config);
  ASSERT_TRUE(bus.publisher("jobs").publish("flaky"));
  Consumer sut = queue.consumer();
  Result<Delivery> first = sut.receive(2s);
  ASSERT_TRUE(first.has_value());
  const auto nacked_at = std::chrono::steady_clock::now();

  ASSERT_TRUE(sut.nack(*first).has_value());
  EXPECT_EQ(sut.try_receive().error(), Errc::kTimeout);  // not before its backoff
  Result<Delivery> second = sut.receive(2s);

  ASSERT_TRUE(second.has_value());
  EXPECT_GE(std::chrono::steady_clock::now() - nacked_at, 45ms);
  EXPECT_EQ(second->attempt(), 2u);
  EXPECT_EQ(text_of(*second), "flaky");
  EXPECT_EQ(queue.stats().nacked, 1u);
}

TEST(Queue, NackWithADelayIsHonoured) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("jobs", journal());
  Queue queue = bus.create_queue("workers", bound_to("jobs"));
  ASSERT_TRUE(bus.publisher("jobs").publish("later"));
  Consumer sut = queue.consumer();
  Result<Delivery> d = sut.receive(2s);
  ASSERT_TRUE(d.has_value());
  const auto nacked_at = std::chrono::steady_clock::now();

  ASSERT_TRUE(sut.nack(*d, 200ms).has_value());
  Result<Delivery> again = sut.receive(3s);

  ASSERT_TRUE(again.has_value());
  EXPECT_GE(std::chrono::steady_clock::now() - nacked_at, 190ms);
}

TEST(Queue, DeadLettersAfterMaxDeliveriesWithTheReasonHeaders) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("jobs", journal());
  QueueConfig config = bound_to("jobs");
  config.max_deliveries = 3;
  Queue queue = bus.create_queue("workers", config);
  const Header headers[] = {{"message-id", "m-1"}, {"type", "Resize@1"}};
  ASSERT_TRUE(bus.publisher("jobs").publish("poison", headers));
  ASSERT_TRUE(bus.publisher("jobs").publish("fine"));
  Consumer sut = queue.consumer();

  int attempts = 0;
  std::vector<std::string> acked;
  for (int i = 0; i < 10 && acked.size() < 1; ++i) {
    Result<Delivery> d = sut.receive(2s);
    if (!d) continue;
    if (text_of(*d) == "poison") {
      ++attempts;
      ASSERT_TRUE(sut.nack(*d).has_value());
    } else {
      acked.push_back(text_of(*d));
      ASSERT_TRUE(sut.ack(*d).has_value());
    }
  }
  // The last nacks: up to max_deliveries attempts in all.
  while (attempts < 3) {
    Result<Delivery> d = sut.receive(2s);
    ASSERT_TRUE(d.has_value());
    ASSERT_EQ(text_of(*d), "poison");
    ++attempts;
    ASSERT_TRUE(sut.nack(*d).has_value());
  }

  EXPECT_EQ(sut.receive(200ms).error(), Errc::kTimeout);
  EXPECT_EQ(acked, std::vector<std::string>{"fine"});
  Subscription dlq = bus.subscribe("workers.dlq", StartAt::earliest());
  Result<Sample> dead = dlq.receive(2s);
  ASSERT_TRUE(dead.has_value());
  const HeadersView& h = dead->message().headers;
  EXPECT_EQ(dead->message().text(), "poison");
  EXPECT_EQ(h.find("x-death-reason"), "delivery_limit");
  EXPECT_EQ(h.find("x-delivery-count"), "3");
  EXPECT_EQ(h.find("message-id"), "m-1");
  EXPECT_EQ(h.find("type"), "Resize@1");
  EXPECT_EQ(h.find("x-original-topic"), "jobs");
  EXPECT_EQ(h.find("x-death-queue"), "workers");
  EXPECT_EQ(queue.stats().dead_lettered, 1u);
  EXPECT_EQ(queue.stats().dlq_depth, 1u);
}

TEST(Queue, RejectDeadLettersAtOnceWithTheErrorText) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("jobs", journal());
  Queue queue = bus.create_queue("workers", bound_to("jobs"));
  ASSERT_TRUE(bus.publisher("jobs").publish("{bad json"));
  Consumer sut = queue.consumer();
  Result<Delivery> d = sut.receive(2s);
  ASSERT_TRUE(d.has_value());

  ASSERT_TRUE(sut.reject(*d, "undecodable: expected '}'").has_value());

  Subscription dlq = bus.subscribe("workers.dlq", StartAt::earliest());
  Result<Sample> dead = dlq.receive(2s);
  ASSERT_TRUE(dead.has_value());
  EXPECT_EQ(dead->message().headers.find("x-death-reason"), "rejected");
  EXPECT_EQ(dead->message().headers.find("x-death-error"), "undecodable: expected '}'");
  EXPECT_EQ(dead->message().headers.find("message-id"), "jobs@0");
}

TEST(Queue, AStalledConsumerLosesItsLeaseAndItsLateAckFails) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("jobs", journal());
  QueueConfig config = bound_to("jobs");
  config.lease = 100ms;
  Queue queue = bus.create_queue("workers", config);
  ASSERT_TRUE(bus.publisher("jobs").publish("slow"));
  Consumer stalled = queue.consumer();
  Consumer other = queue.consumer();
  Result<Delivery> first = stalled.receive(2s);
  ASSERT_TRUE(first.has_value());

  Result<Delivery> second = other.receive(5s);  // after the lease runs out

  ASSERT_TRUE(second.has_value()) << to_string(second.error());
  EXPECT_EQ(text_of(*second), "slow");
  EXPECT_EQ(second->attempt(), 2u);
  EXPECT_EQ(stalled.ack(*first).error(), Errc::kStaleLease);
  EXPECT_TRUE(other.ack(*second).has_value());
  EXPECT_EQ(queue.stats().acked, 1u);
}

TEST(Queue, ExtendKeepsTheLease) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("jobs", journal());
  QueueConfig config = bound_to("jobs");
  config.lease = 200ms;
  Queue queue = bus.create_queue("workers", config);
  ASSERT_TRUE(bus.publisher("jobs").publish("long"));
  Consumer sut = queue.consumer();
  Consumer other = queue.consumer();
  Result<Delivery> d = sut.receive(2s);
  ASSERT_TRUE(d.has_value());

  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(100ms);
    ASSERT_TRUE(sut.extend(*d).has_value());
    EXPECT_EQ(other.try_receive().error(), Errc::kTimeout);
  }

  EXPECT_TRUE(sut.ack(*d).has_value());
}

TEST(Queue, PrefetchBoundsWhatAConsumerHolds) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("jobs", journal());
  Queue queue = bus.create_queue("workers", bound_to("jobs"));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(bus.publisher("jobs").publish("j"));
  Consumer sut = queue.consumer(ConsumerOptions{2});
  Result<Delivery> a = sut.receive(1s);
  Result<Delivery> b = sut.receive(1s);
  ASSERT_TRUE(a.has_value() && b.has_value());

  EXPECT_EQ(sut.try_receive().error(), Errc::kHeldLimit);
  ASSERT_TRUE(sut.ack(*a).has_value());
  EXPECT_TRUE(sut.try_receive().has_value());
}

TEST(Queue, ClosingAConsumerGivesItsDeliveriesBackUncharged) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("jobs", journal());
  Queue queue = bus.create_queue("workers", bound_to("jobs"));
  ASSERT_TRUE(bus.publisher("jobs").publish("unfinished"));
  {
    Consumer closing = queue.consumer();
    ASSERT_TRUE(closing.receive(1s).has_value());
  }
  Consumer sut = queue.consumer();

  Result<Delivery> d = sut.receive(2s);

  ASSERT_TRUE(d.has_value()) << to_string(d.error());
  EXPECT_EQ(d->attempt(), 1u);
}

TEST(Queue, SurvivesReopeningTheBusAndTheQueue) {
  TempBus tb;
  {
    Bus bus = tb.open();
    bus.create_topic("jobs", journal());
    Queue queue = bus.create_queue("workers", bound_to("jobs"));
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(bus.publisher("jobs").publish(std::to_string(i)));
    Consumer c = queue.consumer();
    Result<Delivery> d = c.receive(1s);
    ASSERT_TRUE(d.has_value());
    ASSERT_TRUE(c.ack(*d).has_value());
  }
  Bus bus = tb.open();
  Queue queue = bus.queue("workers");
  Consumer sut = queue.consumer();

  Result<Delivery> d = sut.receive(2s);

  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(text_of(*d), "1");
  EXPECT_EQ(bus.queues(), std::vector<std::string>{"workers"});
}

// Retries (the queue's backoff and a nack's own delay) and a not-before delay are entries of the
// state file beside the journal's segments: they survive losing the whole bus directory in
// /dev/shm, and come due when they were meant to, not before, with their attempt numbers.
TEST(Queue, RetriesAndDelaysSurviveLosingTheBusDirectory) {
  test::TempDir data("/tmp", "queue-journal");
  TopicConfig topic = journal();
  topic.data_dir = data.path();
  QueueConfig config = bound_to("jobs");
  config.retry = RetryPolicy::parse("exponential:min=400ms,max=400ms,factor=1,jitter=0");
  // The header carries milliseconds: the due time is what it says.
  const int64_t due_delay = base::realtime_ns() / 1'000'000 * 1'000'000 + 900'000'000;
  TempBus tb;
  int64_t nacked_at = 0;
  {
    Bus bus = tb.open();
    bus.create_topic("jobs", topic);
    Queue queue = bus.create_queue("workers", config);
    Publisher pub = bus.publisher("jobs");
    ASSERT_TRUE(pub.publish("backoff"));
    ASSERT_TRUE(pub.publish("own delay"));
    const std::string at = envelope::format_time(std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(due_delay))));
    const Header later[] = {{"not-before", at}};
    ASSERT_TRUE(pub.publish("not before", later));
    Consumer c = queue.consumer();
    Result<Delivery> a = c.receive(2s), b = c.receive(2s);
    ASSERT_TRUE(a.has_value() && b.has_value());
    nacked_at = base::realtime_ns();
    ASSERT_TRUE(c.nack(*a).has_value());          // the queue's backoff: 400 ms
    ASSERT_TRUE(c.nack(*b, 700ms).has_value());   // its own delay
    EXPECT_EQ(c.try_receive().error(), Errc::kTimeout);  // the third is delayed
  }
  std::filesystem::remove_all(tb.path());  // a reboot's loss of /dev/shm
  Bus bus = tb.open();
  bus.create_topic("jobs", topic);  // the journal is found in its directory and recovered
  Queue queue = bus.create_queue("workers", config);
  Consumer c = queue.consumer();
  std::map<std::string, std::pair<int64_t, uint32_t>> got;  // payload -> (received at, attempt)
  for (auto until = std::chrono::steady_clock::now() + 10s; got.size() < 3 && std::chrono::steady_clock::now() < until;) {
    Result<Delivery> d = c.receive(100ms);
    if (!d) continue;
    got[text_of(*d)] = {base::realtime_ns(), d->attempt()};
    ASSERT_TRUE(c.ack(*d).has_value());
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_GE(got["backoff"].first, nacked_at + 400'000'000);
  EXPECT_EQ(got["backoff"].second, 2u);
  EXPECT_GE(got["own delay"].first, nacked_at + 700'000'000);
  EXPECT_EQ(got["own delay"].second, 2u);
  EXPECT_GE(got["not before"].first, due_delay);
  EXPECT_EQ(got["not before"].second, 1u);
  EXPECT_EQ(queue.stats().acked, 3u);
}

// Batched durability of acks: one sync() after a batch (an msync of the state file; a power cut
// cannot be staged here, so this checks that it works and that what it wrote reads back).
TEST(Queue, SyncWritesABatchOfSettlementsToDisk) {
  TempBus tb;
  {
    Bus bus = tb.open();
    bus.create_topic("jobs", journal());
    Queue queue = bus.create_queue("workers", bound_to("jobs"));
    Publisher pub = bus.publisher("jobs");
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(pub.publish(std::to_string(i)));
    Consumer c = queue.consumer();
    for (int i = 0; i < 100; ++i) {
      Result<Delivery> d = c.receive(2s);
      ASSERT_TRUE(d.has_value());
      ASSERT_TRUE(c.ack(*d).has_value());
    }
    ASSERT_TRUE(c.sync().has_value());
  }
  Bus bus = tb.open();
  EXPECT_EQ(bus.queue("workers").stats().acked, 100u);
  EXPECT_EQ(Consumer().sync().error(), Errc::kClosed);
}

// Retention deletes segments whatever a queue still had to take: the queue counts what it lost
// and goes on at the oldest retained record; every record is acked or lost, none twice.
TEST(Queue, RecordsRetentionDeletedBeforeDispatchAreCountedLostAndTheRestFlow) {
  TempBus tb;
  Bus bus = tb.open();
  TopicConfig topic = journal();
  topic.segment_bytes = 64 << 10;
  topic.retain_bytes = 2 * (64 << 10);
  bus.create_topic("jobs", topic);
  Queue queue = bus.create_queue("workers", bound_to("jobs"));
  constexpr uint64_t kRecords = 6000;  // ~10 segments of 128-byte frames
  {
    Publisher pub = bus.publisher("jobs");
    for (uint64_t i = 0; i < kRecords; ++i) ASSERT_TRUE(pub.publish(std::to_string(i) + std::string(80, 'r')));
  }
  ASSERT_GT(bus.stats("jobs").deleted_segments, 0u) << "retention did not run";
  Consumer c = queue.consumer();
  uint64_t acked = 0, previous = 0;
  bool increasing = true;
  for (;;) {
    Result<Delivery> d = c.receive(500ms);
    if (!d) break;
    const uint64_t n = std::stoull(text_of(*d));
    increasing &= acked == 0 || n > previous;
    previous = n;
    ASSERT_TRUE(c.ack(*d).has_value());
    ++acked;
  }
  const QueueStats s = queue.stats();
  EXPECT_TRUE(increasing);
  EXPECT_GT(s.lost, 0u);
  EXPECT_GT(acked, 0u);
  EXPECT_EQ(s.acked, acked);
  EXPECT_EQ(s.acked + s.lost, kRecords);
  EXPECT_EQ(previous, kRecords - 1);
}

// The handler style: the handler's outcome settles each delivery; a handler that throws made a
// failed attempt, and its what() is the dead letter's error text on the last one.
TEST(Queue, HandlerStyleSettlesAsTheHandlerSaysAndAThrowIsAFailedAttempt) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("jobs", journal());
  QueueConfig config = bound_to("jobs");
  config.max_deliveries = 2;
  Queue queue = bus.create_queue("workers", config);
  Publisher pub = bus.publisher("jobs");
  for (const char* text : {"ok", "boom", "bad", "ok"}) ASSERT_TRUE(pub.publish(text));
  Consumer c = queue.consumer();
  std::vector<std::string> seen;
  auto handler = [&](const Delivery& d) {
    seen.push_back(text_of(d) + "#" + std::to_string(d.attempt()));
    if (text_of(d) == "boom") throw std::runtime_error("boom!");
    return text_of(d) == "bad" ? Outcome::kReject : Outcome::kAck;
  };
  size_t handled = 0;
  for (auto until = std::chrono::steady_clock::now() + 10s; handled < 5 && std::chrono::steady_clock::now() < until;) {
    Result<size_t> n = c.handle(handler, 16, 100ms);
    if (n) {
      handled += *n;
    } else {
      ASSERT_EQ(n.error(), Errc::kTimeout);
    }
  }
  EXPECT_EQ(handled, 5u);
  // The retry of "boom" comes after its backoff: before or after the second "ok", by timing.
  std::vector<std::string> sorted = seen;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<std::string>{"bad#1", "boom#1", "boom#2", "ok#1", "ok#1"}));
  EXPECT_LT(std::find(seen.begin(), seen.end(), "boom#1"), std::find(seen.begin(), seen.end(), "boom#2"));
  const QueueStats s = queue.stats();
  EXPECT_EQ(s.acked, 2u);
  EXPECT_EQ(s.dead_lettered, 2u);
  std::map<std::string, std::string> errors;  // x-death-reason -> x-death-error
  Subscription dlq = bus.subscribe("workers.dlq", {StartAt::earliest()});
  for (auto until = std::chrono::steady_clock::now() + 5s; errors.size() < 2 && std::chrono::steady_clock::now() < until;) {
    (void)dlq.receive([&](const Message& m) {
      errors[std::string(m.headers.find("x-death-reason").value_or(""))] =
          std::string(m.headers.find("x-death-error").value_or(""));
    }, 16, 100ms);
  }
  EXPECT_EQ(errors["delivery_limit"], "boom!");
  EXPECT_EQ(errors["rejected"], "rejected by the handler");
  EXPECT_EQ(Consumer().handle(handler).error(), Errc::kClosed);
}

TEST(QueueBadInput, UnknownQueueSaysHowToCreateIt) {
  TempBus tb;
  Bus bus = tb.open();
  try {
    bus.queue("nope");
    FAIL() << "opened a queue that does not exist";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("create it first"), std::string::npos) << e.what();
  }
}

TEST(QueueBadInput, BadConfigIsRefusedWithTheReason) {
  TempBus tb;
  Bus bus = tb.open();
  QueueConfig none;
  EXPECT_THROW(bus.create_queue("workers", none), Error);
  QueueConfig bad = bound_to("jobs..x");
  EXPECT_THROW(bus.create_queue("workers", bad), Error);
  QueueConfig limit = bound_to("jobs");
  limit.max_deliveries = 0;
  EXPECT_THROW(bus.create_queue("workers", limit), Error);
  EXPECT_THROW(bus.create_queue("workers.dlq", bound_to("jobs")), Error);
}

TEST(QueueBadInput, HostileBytesInTheStateFileAreAClearError) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("jobs", journal());
  { Queue queue = bus.create_queue("workers", bound_to("jobs")); }
  const std::string state = tb.path() + "/topics/jobs/segments/queues/workers";
  {
    std::fstream f(state, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good());
    f.seekp(offsetof(messaging::QueueFile, header) + offsetof(messaging::QueueHeader, window));
    const char garbage[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    f.write(garbage, sizeof garbage);
  }
  Bus again = Bus::open(tb.path());
  try {
    again.queue("workers");
    FAIL() << "a damaged state file was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("remove the file"), std::string::npos) << e.what();
  }
}

// The frontier and the dispatch point set directly: D below F, or more than a window past it.
TEST(QueueBadInput, AStateFileWhoseDispatchPointIsOutsideItsWindowIsRefused) {
  for (const uint64_t d : {uint64_t{5}, uint64_t{100 + messaging::kDefaultWindow + 1}}) {
    TempBus tb;
    Bus bus = tb.open();
    bus.create_topic("jobs", journal());
    { Queue queue = bus.create_queue("workers", bound_to("jobs")); }
    const std::string state = tb.path() + "/topics/jobs/segments/queues/workers";
    {
      std::fstream f(state, std::ios::in | std::ios::out | std::ios::binary);
      ASSERT_TRUE(f.good());
      const uint64_t frontier = 100;
      f.seekp(offsetof(messaging::QueueFile, frontier));
      f.write(reinterpret_cast<const char*>(&frontier), sizeof frontier);
      f.seekp(offsetof(messaging::QueueFile, dispatch) + offsetof(log::Tail, seq));
      f.write(reinterpret_cast<const char*>(&d), sizeof d);
    }
    Bus again = Bus::open(tb.path());
    try {
      again.queue("workers");
      FAIL() << "D " << d << " after F 100 was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
      EXPECT_NE(std::string(e.what()).find("dispatch point"), std::string::npos) << e.what();
    }
  }
}

TEST(RetryPolicyParse, ReadsEveryKeyAndRefusesNonsense) {
  const RetryPolicy p = RetryPolicy::parse("exponential:min=100ms,max=30s,factor=2,jitter=0.2");
  EXPECT_EQ(p.min, 100ms);
  EXPECT_EQ(p.max, 30s);
  EXPECT_DOUBLE_EQ(p.factor, 2.0);
  EXPECT_DOUBLE_EQ(p.jitter, 0.2);
  EXPECT_THROW(RetryPolicy::parse("linear:min=1s"), Error);
  EXPECT_THROW(RetryPolicy::parse("exponential:min=5s,max=1s"), Error);
  EXPECT_THROW(RetryPolicy::parse("exponential:jitter=2"), Error);
  EXPECT_THROW(RetryPolicy::parse("exponential:min=10parsecs"), Error);
}

TEST(RetryPolicyParse, DelaysGrowByTheFactorWithinTheJitterAndStopAtMax) {
  RetryPolicy p;
  p.min = 100ms;
  p.max = 1s;
  p.factor = 2;
  p.jitter = 0.2;
  EXPECT_EQ(p.delay(1, 0.5), 100ms);
  EXPECT_EQ(p.delay(2, 0.5), 200ms);
  EXPECT_EQ(p.delay(3, 0.0), 320ms);  // 400 ms, jitter -20 %
  EXPECT_EQ(p.delay(3, 1.0), 480ms);  // 400 ms, jitter +20 % (u -> 1)
  EXPECT_EQ(p.delay(10, 0.5), 1s);
}

}  // namespace
}  // namespace shmbus
