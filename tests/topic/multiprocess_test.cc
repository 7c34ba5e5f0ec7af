// Many processes on one topic: fan-in ordering and integrity, fan-out, exact loss accounting.
#include <optional>
#include <gtest/gtest.h>

#include <vector>

#include "shmbus/shmbus.h"
#include "support/stamped.h"
#include "support/test_bus.h"

namespace shmbus {
namespace {

using namespace std::chrono_literals;
using test::Stamp;
using test::TempBus;

// Child: reads until it has `expected` stamps; checks each publisher's order and every checksum.
// Exit code: 0 ok, 1 corrupt payload, 2 out of order or duplicate, 3 timed out, 4 poll error.
int read_stamps(const std::string& bus_path, const std::string& topic, uint32_t publishers, uint64_t per_publisher) {
  Bus bus = Bus::open(bus_path);
  Subscription sub = bus.subscribe(topic, {StartAt::earliest(), WaitStrategy::kBlock});
  std::vector<uint64_t> next(publishers, 0);
  uint64_t total = 0;
  int verdict = 0;
  const uint64_t expected = publishers * per_publisher;
  auto deadline = std::chrono::steady_clock::now() + 300s;
  while (total < expected && verdict == 0) {
    Result<size_t> n = sub.receive([&](const Message& m) {
      Stamp s;
      if (!test::read_stamp(m.payload, s) || s.publisher >= publishers) {
        verdict = 1;
      } else if (s.seq != next[s.publisher]++) {
        verdict = 2;
      }
      ++total;
    }, 4096, 1s);
    if (!n) return 4;
    if (std::chrono::steady_clock::now() > deadline) return 3;
  }
  return verdict;
}

int write_stamps(const std::string& bus_path, const std::string& topic, uint32_t id, uint64_t count) {
  Bus bus = Bus::open(bus_path);
  Publisher pub = bus.publisher(topic);
  for (uint64_t i = 0; i < count; ++i) {
    Stamp s = test::make_stamp(id, i);
    if (!pub.publish(test::bytes_of(s))) return 1;
  }
  return 0;
}

TEST(MultiProcess, FourPublishersThreeSubscribersBlockPolicyExactlyOnceInOrder) {
  constexpr uint32_t kPublishers = 4;
  constexpr uint64_t kPerPublisher = 1'000'000;
  constexpr int kSubscribers = 3;
  TempBus tb;
  Bus bus = tb.open();
  TopicConfig config = test::ring_config(1 << 20, Policy::kBlock);
  bus.create_topic("fanin", config);

  std::vector<pid_t> subscribers;
  for (int i = 0; i < kSubscribers; ++i) {
    subscribers.push_back(test::spawn([&] { return read_stamps(tb.path(), "fanin", kPublishers, kPerPublisher); }));
  }
  ASSERT_TRUE(test::eventually([&] { return bus.stats("fanin").subscribers == kSubscribers; }));
  std::vector<pid_t> publishers;
  for (uint32_t id = 0; id < kPublishers; ++id) {
    publishers.push_back(test::spawn([&, id] { return write_stamps(tb.path(), "fanin", id, kPerPublisher); }));
  }

  for (pid_t p : publishers) EXPECT_EQ(test::wait_child(p, 600s), 0);
  for (pid_t s : subscribers) EXPECT_EQ(test::wait_child(s, 600s), 0);
  TopicStats stats = bus.stats("fanin");
  EXPECT_EQ(stats.published, kPublishers * kPerPublisher);
  EXPECT_EQ(stats.lost, 0u);
  EXPECT_EQ(stats.unblocked, 0u);
}

TEST(MultiProcess, OverwriteSlowSubscriberCountsExactLoss) {
  constexpr uint64_t kCount = 300'000;
  TempBus tb;
  Bus bus = tb.open();
  TopicConfig config = test::ring_config(64 << 10, Policy::kOverwrite);
  bus.create_topic("lossy", config);
  Subscription sut = bus.subscribe("lossy", {StartAt::latest(), WaitStrategy::kBlock});

  pid_t publisher = test::spawn([&] { return write_stamps(tb.path(), "lossy", 0, kCount); });
  uint64_t received = 0;
  uint64_t last_seq = 0;
  bool in_order = true;
  bool intact = true;
  auto on_message = [&](const Message& m) {
    Stamp s;
    intact &= test::read_stamp(m.payload, s);
    in_order &= received == 0 || s.seq > last_seq;
    last_seq = s.seq;
    ++received;
  };
  bool publisher_done = false;
  int exit_code = -1;
  std::optional<Errc> last_error;
  auto deadline = std::chrono::steady_clock::now() + 120s;
  while ((!publisher_done || sut.position() != bus.stats("lossy").tail_position) &&
         std::chrono::steady_clock::now() < deadline) {
    Result<size_t> n = sut.receive(on_message, 64, 10ms);
    if (!n) last_error = n.error();
    std::this_thread::sleep_for(std::chrono::microseconds(200));  // deliberately slow
    if (!publisher_done && ::waitpid(publisher, &exit_code, WNOHANG) == publisher) publisher_done = true;
  }

  ASSERT_TRUE(publisher_done);
  EXPECT_EQ(sut.position(), bus.stats("lossy").tail_position) << "last error " << (last_error ? to_string(*last_error) : "none");
  EXPECT_EQ(WEXITSTATUS(exit_code), 0);
  EXPECT_TRUE(intact);
  EXPECT_TRUE(in_order);
  EXPECT_GT(sut.lost(), 0u) << "the subscriber was meant to be lapped";
  EXPECT_EQ(received + sut.lost(), kCount);
  EXPECT_EQ(sut.received(), received);
}

// Readers right behind a fast overwriting publisher meet frames that the next lap has claimed
// but whose tail move is still to come: that is lapping, never corruption.
TEST(MultiProcess, OverwriteReadersRacingTheNextLapNeverReportCorruption) {
  constexpr uint64_t kCount = 2'000'000;
  constexpr int kReaders = 8;
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("racy", test::ring_config(16 << 10, Policy::kOverwrite));
  std::vector<Subscription> readers;
  for (int i = 0; i < kReaders; ++i) readers.push_back(bus.subscribe("racy", {StartAt::latest(), WaitStrategy::kSpin}));
  std::vector<uint64_t> received(kReaders, 0);
  std::vector<bool> in_order(kReaders, true);
  std::vector<uint64_t> last_seq(kReaders, 0);

  pid_t publisher = test::spawn([&] { return write_stamps(tb.path(), "racy", 0, kCount); });
  bool publisher_done = false;
  int exit_code = -1;
  std::optional<Errc> error;
  auto deadline = std::chrono::steady_clock::now() + 120s;
  while (!error && std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < kReaders && !error; ++i) {
      Result<size_t> n = readers[i].poll([&](const Message& m) {
        Stamp s{};
        in_order[i] = in_order[i] && test::read_stamp(m.payload, s) && (received[i] == 0 || s.seq > last_seq[i]);
        last_seq[i] = s.seq;
        ++received[i];
      }, 16);
      if (!n) error = n.error();
    }
    if (publisher_done) {
      bool drained = true;
      for (Subscription& r : readers) drained &= r.position() == bus.stats("racy").tail_position;
      if (drained) break;
    } else if (::waitpid(publisher, &exit_code, WNOHANG) == publisher) {
      publisher_done = true;
    }
  }

  ASSERT_FALSE(error.has_value()) << to_string(*error);
  ASSERT_TRUE(publisher_done);
  EXPECT_EQ(WEXITSTATUS(exit_code), 0);
  // What the topic saw, for a failure's message: a claim voided (unblocked) takes a seq that
  // is neither received nor lost; tail_seq - published says how many.
  const TopicStats stats = bus.stats("racy");
  const std::string seen = "tail_seq " + std::to_string(stats.tail_seq) + ", published " + std::to_string(stats.published) +
                           ", unblocked " + std::to_string(stats.unblocked) + ", tail " + std::to_string(stats.tail_position);
  for (int i = 0; i < kReaders; ++i) {
    EXPECT_TRUE(in_order[i]) << "reader " << i;
    EXPECT_EQ(received[i] + readers[i].lost(), kCount)
        << "reader " << i << ": received " << received[i] << ", lost " << readers[i].lost() << "; " << seen;
  }
}

}  // namespace
}  // namespace shmbus
