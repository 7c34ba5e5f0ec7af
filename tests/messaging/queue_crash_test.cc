// Durable queues across real processes: consumers killed -9 and SIGSTOPped, a poison message
// that kills its consumer, and a kill loop under two producers.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/kill_point.h"
#include "shmbus/shmbus.h"
#include "support/test_bus.h"

namespace shmbus {
namespace {

using namespace std::chrono_literals;
using test::TempBus;
using test::TempDir;

TopicConfig journal() {
  TopicConfig c;
  c.kind = TopicKind::kJournal;
  c.segment_bytes = 4 << 20;
  return c;
}

QueueConfig workers(std::chrono::milliseconds lease = 30s, uint32_t max_deliveries = 10) {
  QueueConfig c;
  c.bindings = {"jobs"};
  c.lease = lease;
  c.max_deliveries = max_deliveries;
  c.retry.min = 1ms;
  c.retry.max = 5ms;
  return c;
}

// Appends one line with one write(2): a line is in the file or not, even under kill -9.
void log_line(int fd, const std::string& line) {
  const std::string l = line + "\n";
  ASSERT_EQ(::write(fd, l.data(), l.size()), static_cast<ssize_t>(l.size()));
}

// The lines of a log that log_line() wrote, without a last line cut short: a write() that
// crosses a page boundary of the file is not atomic against SIGKILL (the kernel checks for a
// fatal signal between pages), so a consumer killed in one may leave "A 1:23" of "A 1:2345".
std::vector<std::string> complete_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // no newline after it: cut short by the kill
    lines.push_back(line);
  }
  return lines;
}

// A consumer process that takes one delivery of the queue "workers", says so on a pipe, then
// runs `handling` (its exit code is the child's). The parent returns once the delivery is taken.
pid_t spawn_handling_consumer(const std::string& bus_path, const std::function<int(Consumer&, Delivery&)>& handling) {
  int ready[2];
  if (::pipe(ready) != 0) return -1;
  const pid_t child = test::spawn([&] {
    Bus b = Bus::open(bus_path);
    Consumer c = b.queue("workers").consumer();
    Result<Delivery> d = c.receive(10s);
    if (!d) return 1;
    char x = 1;
    if (::write(ready[1], &x, 1) != 1) return 2;
    return handling(c, *d);
  });
  char x = 0;
  const bool taken = ::read(ready[0], &x, 1) == 1;
  ::close(ready[0]);
  ::close(ready[1]);
  return taken ? child : -1;
}

TEST(QueueCrash, AKilledConsumersDeliveryGoesBackAtOnceNotAfterItsLease) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("jobs", journal());
  Queue queue = bus.create_queue("workers", workers(/*lease=*/60s));
  ASSERT_TRUE(bus.publisher("jobs").publish("job"));
  const pid_t child = spawn_handling_consumer(tb.path(), [](Consumer&, Delivery&) -> int {
    for (;;) ::pause();  // handling, until killed
  });
  ASSERT_GT(child, 0);
  ::kill(child, SIGKILL);
  EXPECT_EQ(test::wait_child(child), 128 + SIGKILL);
  Consumer sut = queue.consumer();
  const auto killed_at = std::chrono::steady_clock::now();

  Result<Delivery> again = sut.receive(10s);

  ASSERT_TRUE(again.has_value()) << to_string(again.error());
  EXPECT_LT(std::chrono::steady_clock::now() - killed_at, 5s) << "waited for the lease, not the death";
  EXPECT_EQ(again->attempt(), 2u);  // its handling had begun: the attempt counts
  EXPECT_TRUE(sut.ack(*again).has_value());
}

TEST(QueueCrash, AStoppedConsumerLosesItsLeaseAndItsAckAfterContinueIsStale) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("jobs", journal());
  Queue queue = bus.create_queue("workers", workers(/*lease=*/300ms));
  ASSERT_TRUE(bus.publisher("jobs").publish("job"));
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  const pid_t child = spawn_handling_consumer(tb.path(), [&](Consumer& c, Delivery& d) {
    // Handling: the parent stops us with SIGSTOP here, and continues us once another consumer
    // has taken the record; then it lets us ack.
    char x = 0;
    if (::read(go[0], &x, 1) != 1) return 5;
    Result<void> late = c.ack(d);
    return !late && late.error() == Errc::kStaleLease ? 0 : 3;
  });
  ASSERT_GT(child, 0);
  char x = 1;
  ASSERT_EQ(::kill(child, SIGSTOP), 0);
  ASSERT_TRUE(test::eventually([&] {
    std::ifstream stat("/proc/" + std::to_string(child) + "/stat");
    std::string all((std::istreambuf_iterator<char>(stat)), {});
    return all.find(") T ") != std::string::npos;
  }, 30s));
  Consumer sut = queue.consumer();

  Result<Delivery> taken = sut.receive(30s);  // once the stopped consumer's lease ran out

  ASSERT_TRUE(taken.has_value()) << to_string(taken.error());
  EXPECT_EQ(taken->attempt(), 2u);
  ASSERT_TRUE(sut.ack(*taken).has_value());
  ASSERT_EQ(::kill(child, SIGCONT), 0);
  ASSERT_EQ(::write(go[1], &x, 1), 1);
  EXPECT_EQ(test::wait_child(child), 0) << "the stopped consumer's late ack did not fail as stale";
  EXPECT_EQ(queue.stats().acked, 1u);
}

TEST(QueueCrash, APoisonMessageThatKillsItsConsumerIsDeadLetteredAfterMaxDeliveries) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("jobs", journal());
  constexpr uint32_t kMax = 3;
  Queue queue = bus.create_queue("workers", workers(30s, kMax));
  Publisher pub = bus.publisher("jobs");
  ASSERT_TRUE(pub.publish("before"));
  ASSERT_TRUE(pub.publish("poison"));
  ASSERT_TRUE(pub.publish("after"));
  TempDir logs("/tmp", "poison", true);
  // Each consumer process acks good jobs and dies on the poison one (its handler crashes).
  auto run_consumer = [&](int n) {
    return test::spawn([&, n] {
      const int fd = ::open((logs.path() + "/c" + std::to_string(n)).c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      Bus b = Bus::open(tb.path());
      Consumer c = b.queue("workers").consumer(ConsumerOptions{1});
      for (;;) {
        Result<Delivery> d = c.receive(2s);
        if (!d) return 0;
        log_line(fd, std::string(d->message().text()) + " " + std::to_string(d->attempt()));
        if (d->message().text() == "poison") ::raise(SIGKILL);
        if (!c.ack(*d)) return 4;
      }
    });
  };
  int deaths = 0;
  for (int n = 0; n < 10 && queue.stats().dead_lettered == 0; ++n) {
    if (test::wait_child(run_consumer(n), 60s) == 128 + SIGKILL) ++deaths;
  }

  EXPECT_EQ(deaths, static_cast<int>(kMax));
  std::map<std::string, std::vector<int>> attempts;
  for (int n = 0; n < 10; ++n) {
    std::ifstream in(logs.path() + "/c" + std::to_string(n));
    std::string what;
    int attempt = 0;
    while (in >> what >> attempt) attempts[what].push_back(attempt);
  }
  EXPECT_EQ(attempts["poison"], (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(attempts["before"], std::vector<int>{1}) << "a neighbour was charged";
  EXPECT_EQ(attempts["after"], std::vector<int>{1}) << "a neighbour was charged";
  Subscription dlq = bus.subscribe("workers.dlq", StartAt::earliest());
  Result<Sample> dead = dlq.receive(2s);
  ASSERT_TRUE(dead.has_value());
  EXPECT_EQ(dead->message().text(), "poison");
  EXPECT_EQ(dead->message().headers.find("x-death-reason"), "delivery_limit");
  EXPECT_EQ(dead->message().headers.find("x-delivery-count"), std::to_string(kMax));
  EXPECT_EQ(queue.stats().acked, 2u);
}

// Two producer processes, four consumer processes, one of them killed -9 at random moments
// and restarted. Every message is acked exactly once; none is lost; a message handled twice
// was handled by a consumer that was killed. The size: 500,000 messages, 200 kills (7 s
// on our 2-core VM); SHMBUS_SOAK_SCALE multiplies both.
TEST(QueueCrash, KillLoopLosesNothingAndDuplicatesOnlyWhatAKilledConsumerHadBegun) {
  const char* scale_env = std::getenv("SHMBUS_SOAK_SCALE");
  const int scale = scale_env ? std::max(1, std::atoi(scale_env)) : 1;
  const int per_producer = 250'000 * scale;
  const int kills = 200 * scale;
  const unsigned seed = std::random_device{}();
  std::printf("seed %u, %d messages, %d kills\n", seed, 2 * per_producer, kills);
  std::mt19937 rng(seed);
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("jobs", journal());
  Queue queue = bus.create_queue("workers", workers(/*lease=*/20s));
  TempDir logs("/tmp", "killloop", true);

  std::vector<pid_t> producers;
  for (int p = 0; p < 2; ++p) {
    producers.push_back(test::spawn([&, p] {
      Bus b = Bus::open(tb.path());
      Publisher pub = b.publisher("jobs");
      for (int i = 0; i < per_producer; ++i) {
        if (!pub.publish(std::to_string(p) + ":" + std::to_string(i))) return 1;
      }
      return 0;
    }));
  }
  int incarnation = 0;
  std::set<int> killed;
  auto start_consumer = [&] {
    const int n = incarnation++;
    return std::make_pair(n, test::spawn([&, n]() -> int {
      const int fd = ::open((logs.path() + "/" + std::to_string(n)).c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      Bus b = Bus::open(tb.path());
      Consumer c = b.queue("workers").consumer(ConsumerOptions{8});
      for (;;) {
        Result<Delivery> d = c.receive(1s);
        if (!d) continue;
        const std::string id(d->message().text());
        log_line(fd, "H " + id);
        if (c.ack(*d)) log_line(fd, "A " + id);
      }
    }));
  };
  std::vector<std::pair<int, pid_t>> consumers;
  for (int i = 0; i < 4; ++i) consumers.push_back(start_consumer());
  const uint64_t total = 2ull * per_producer;
  for (int k = 0; k < kills; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(5, 60)(rng)));
    ::kill(consumers[0].second, SIGKILL);
    test::wait_child(consumers[0].second, 30s);
    killed.insert(consumers[0].first);
    consumers[0] = start_consumer();
  }
  for (pid_t p : producers) EXPECT_EQ(test::wait_child(p, 300s), 0);
  EXPECT_TRUE(test::eventually([&] { return queue.stats().acked >= total; }, 300s)) << queue.stats().acked;
  for (auto& [n, pid] : consumers) {
    ::kill(pid, SIGKILL);
    test::wait_child(pid, 30s);
    killed.insert(n);  // stopped the same way: a line half-written is not possible (one write)
  }

  std::map<std::string, int> acks;
  std::map<std::string, int> handled;
  for (int n = 0; n < incarnation; ++n) {
    for (const std::string& line : complete_lines(logs.path() + "/" + std::to_string(n))) {
      std::istringstream fields(line);
      std::string kind, id;
      fields >> kind >> id;
      if (kind == "A") ++acks[id];
      if (kind == "H") ++handled[id];
    }
  }
  // Lost: a message nobody began to handle, or whose every handling ended without an ack in a
  // consumer that lived on. (A consumer killed between its ack and its log line acked it.)
  size_t lost = 0, acked_twice = 0;
  for (int p = 0; p < 2; ++p) {
    for (int i = 0; i < per_producer; ++i) {
      const std::string id = std::to_string(p) + ":" + std::to_string(i);
      lost += handled.count(id) == 0;
      acked_twice += acks.count(id) != 0 && acks[id] > 1;
    }
  }
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(acked_twice, 0u) << "a record was acked by two consumers";
  const QueueStats s = queue.stats();
  EXPECT_EQ(s.acked, total);
  EXPECT_EQ(s.dead_lettered, 0u);
  EXPECT_EQ(s.in_flight, 0u);
  EXPECT_EQ(s.ready, 0u);
  EXPECT_EQ(s.scheduled, 0u);
  // Every extra handling was a redelivery after a kill: redelivered counts them.
  uint64_t extra = 0;
  for (const auto& [id, n] : handled) extra += static_cast<uint64_t>(n - 1);
  EXPECT_LE(extra, s.redelivered);
}

// A consumer killed at each step of the queue protocol (dispatch, lease, ack, frontier, nack,
// dead-letter, the sweep of a dead consumer's leases), after a few steps: another consumer then
// settles everything, exactly once per record (acked + dead-lettered = published, nothing left
// ready, in flight or scheduled), and a dead letter published twice keeps its message-id.
TEST(QueueCrash, AConsumerKilledAtEveryQueueStepLosesNothingAndSettlesEachRecordOnce) {
  const char* const kPoints[] = {"queue.dispatch.before",      "queue.dispatch.after",     "queue.lease.after",
                                 "queue.ack.before",           "queue.ack.after",          "queue.frontier.after_reset",
                                 "queue.nack.before",          "queue.nack.after",         "queue.dead_letter.after_last_lease",
                                 "queue.dead_letter.after_publish", "queue.sweep.took_void_lease"};
  constexpr int kRecords = 60;
  for (const char* point : kPoints) {
    const bool sweep = std::string(point) == "queue.sweep.took_void_lease";  // one void lease to take
    for (uint64_t countdown : {1u, 4u}) {
      if (sweep && countdown > 1) continue;
      TempBus tb;
      Bus bus = tb.open();
      bus.create_topic("jobs", journal());
      Queue queue = bus.create_queue("workers", workers(30s, 3));
      // Published by a process of its own: a publisher in this one would leave a journal thread
      // running here, and a fork from a threaded parent may deadlock in the sanitizers' allocator.
      const pid_t producer = test::spawn([&] {
        Bus b = Bus::open(tb.path());
        Publisher pub = b.publisher("jobs");
        for (int i = 0; i < kRecords; ++i) {
          const std::string id = "job-" + std::to_string(i);
          const Header h[] = {{"message-id", id}};
          if (!pub.publish(std::to_string(i), h)) return 1;
        }
        return 0;
      });
      ASSERT_EQ(test::wait_child(producer), 0);
      if (sweep) {
        // A consumer that dies holding leases, for the victim's sweep to take over.
        const pid_t holder = spawn_handling_consumer(tb.path(), [](Consumer&, Delivery&) {
          for (;;) ::pause();
          return 0;
        });
        ASSERT_GT(holder, 0);
        ::kill(holder, SIGKILL);
        ASSERT_EQ(test::wait_child(holder), 128 + SIGKILL);
      }
      const pid_t victim = test::spawn([&] {
        Bus b = Bus::open(tb.path());
        base::arm_kill_point(point, countdown);  // before attaching: it sweeps a dead slot it takes over
        Consumer c = b.queue("workers").consumer({.prefetch = 4});
        for (auto until = std::chrono::steady_clock::now() + 20s; std::chrono::steady_clock::now() < until;) {
          Result<Delivery> d = c.receive(20ms);
          if (!d) continue;
          const int n = std::stoi(std::string(d->message().text()));
          if (n % 11 == 5) {
            (void)c.reject(*d, "bad job");
          } else if (n % 7 == 3 && d->attempt() == 1) {
            (void)c.nack(*d);
          } else {
            (void)c.ack(*d);
          }
        }
        return 0;  // the kill point never fired
      });
      const int status = test::wait_child(victim, 60s);
      ASSERT_EQ(status, 128 + SIGKILL) << point << " countdown " << countdown << " did not fire";
      // The survivor acks whatever comes, rejects what the victim would have rejected.
      Consumer survivor = queue.consumer();
      for (auto quiet = std::chrono::steady_clock::now() + 1s; std::chrono::steady_clock::now() < quiet;) {
        Result<Delivery> d = survivor.receive(50ms);
        if (!d) continue;
        quiet = std::chrono::steady_clock::now() + 1s;
        const int n = std::stoi(std::string(d->message().text()));
        ASSERT_TRUE(n % 11 == 5 ? survivor.reject(*d, "bad job").has_value() : survivor.ack(*d).has_value()) << point;
      }
      const QueueStats s = queue.stats();
      EXPECT_EQ(s.acked + s.dead_lettered, static_cast<uint64_t>(kRecords)) << point << " " << countdown;
      EXPECT_EQ(s.dead_lettered, static_cast<uint64_t>((kRecords + 5) / 11)) << point << " " << countdown;
      EXPECT_EQ(s.ready + s.in_flight + s.scheduled, 0u) << point << " " << countdown;
      // At least once into the dead-letter topic; a second copy only from a death between publish and settle.
      EXPECT_GE(s.dlq_depth, s.dead_lettered) << point;
      std::set<std::string> ids;
      uint64_t dead_copies = 0;
      Subscription dlq = bus.subscribe("workers.dlq", {StartAt::earliest()});
      for (;;) {
        Result<size_t> n = dlq.poll([&](const Message& m) {
          ++dead_copies;
          if (auto id = m.headers.find("message-id")) ids.insert(std::string(*id));
        }, 1024);
        if (!n || *n == 0) break;
      }
      EXPECT_EQ(ids.size(), s.dead_lettered) << point;
      if (std::string(point) != "queue.dead_letter.after_publish") {
        EXPECT_EQ(dead_copies, s.dead_lettered) << point;
      }
    }
  }
}

// A publisher killed between its claim and its commit, on a journal topic nobody subscribes to:
// no subscriber will void the claim, so the queue's consumer does, and the records after it flow.
TEST(QueueCrash, APublisherKilledMidClaimDoesNotStallAQueueWhoseTopicHasNoSubscriber) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("jobs", journal());
  Queue queue = bus.create_queue("workers", workers());
  const pid_t victim = test::spawn([&] {
    Bus b = Bus::open(tb.path());
    Publisher p = b.publisher("jobs");
    if (!p.publish("before")) return 1;
    Result<Claim> c = p.claim(64);
    if (c) ::raise(SIGKILL);
    return 2;
  });
  ASSERT_EQ(test::wait_child(victim), 128 + SIGKILL);
  const pid_t survivor = test::spawn([&] {
    Bus b = Bus::open(tb.path());
    return b.publisher("jobs").publish("after") ? 0 : 1;
  });
  ASSERT_EQ(test::wait_child(survivor), 0);
  Consumer c = queue.consumer();
  std::vector<std::string> got;
  for (auto until = std::chrono::steady_clock::now() + 20s; got.size() < 2 && std::chrono::steady_clock::now() < until;) {
    Result<Delivery> d = c.receive(100ms);
    if (!d) continue;
    got.emplace_back(d->message().text());
    ASSERT_TRUE(c.ack(*d).has_value());
  }
  EXPECT_EQ(got, (std::vector<std::string>{"before", "after"}));
  EXPECT_EQ(bus.stats("jobs").unblocked, 1u);
  EXPECT_EQ(queue.stats().skipped, 1u);  // the dead claim's seq
}

}  // namespace
}  // namespace shmbus
