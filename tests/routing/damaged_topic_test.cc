// A damaged topic among healthy ones: pattern subscribers skip it (once, reported), keep serving
// the others and keep their timeouts; a single-topic subscriber refuses it with a clear Error.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "shmbus/shmbus.h"
#include "support/test_bus.h"

namespace shmbus {
namespace {

using namespace std::chrono_literals;
using test::TempBus;

constexpr const char* kDamaged = "orders.damaged";
constexpr const char* kHealthy = "orders.healthy";

// Overwrites the first 4 KiB of `path` (its file header included) with random bytes.
void scribble_first_page(const std::string& path) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f) << path;
  std::mt19937_64 rng(12);
  for (int i = 0; i < 4096 / 8; ++i) {
    const uint64_t v = rng();
    f.write(reinterpret_cast<const char*>(&v), sizeof v);
  }
}

// The damaged topic is made first, so that the registry meets it before the healthy one.
void make_topics(Bus& bus, const std::string& damaged_file) {
  bus.create_topic(kDamaged, test::ring_config(64 << 10));
  bus.create_topic(kHealthy, test::ring_config(64 << 10));
  ASSERT_TRUE(bus.publisher(kHealthy).publish("hello"));
  scribble_first_page(bus.path() + "/topics/" + kDamaged + "/" + damaged_file);
}

int64_t ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
}

// In a child process (a regression would spin for ever): subscribe("#"), expect the healthy
// topic's record, a receive() that ends within its timeout, and the damaged topic reported.
// Returns the child's exit code: 0 = all good; see the codes below.
int pattern_subscriber_case(const std::string& bus_path, WaitStrategy wait) {
  pid_t pid = test::spawn([&] {
    Bus bus = Bus::open(bus_path);
    Subscription sub = bus.subscribe("#", {StartAt::earliest(), wait});
    std::vector<std::string> got;
    auto handler = [&](const Message& m) { got.emplace_back(m.text()); };
    const auto t0 = std::chrono::steady_clock::now();
    while (got.empty() && ms_since(t0) < 5000) {
      Result<size_t> n = sub.receive(handler, 16, 100ms);
      if (!n) return std::fprintf(stderr, "receive: %s\n", to_string(n.error())), 1;
    }
    if (got != std::vector<std::string>{"hello"}) return std::fprintf(stderr, "healthy record not delivered\n"), 2;
    const auto t1 = std::chrono::steady_clock::now();
    Result<size_t> n = sub.receive(handler, 16, 200ms);
    const int64_t took = ms_since(t1);
    if (!n || *n != 0 || took > 1500) return std::fprintf(stderr, "idle receive took %lld ms\n", static_cast<long long>(took)), 3;
    for (int i = 0; i < 1000; ++i) static_cast<void>(sub.poll(handler, 16));
    const auto& skipped = sub.skipped_topics();
    if (skipped.size() != 1 || skipped[0].topic != kDamaged) return std::fprintf(stderr, "skip not reported\n"), 4;
    if (skipped[0].error.find("not a shmbus file") == std::string::npos ||
        skipped[0].error.find(bus_path + "/topics/" + kDamaged) == std::string::npos) {
      return std::fprintf(stderr, "unclear error: %s\n", skipped[0].error.c_str()), 5;
    }
    if (sub.topic_count() != 1) return std::fprintf(stderr, "%zu topics attached\n", sub.topic_count()), 6;
    return 0;
  });
  return test::wait_child(pid, std::chrono::seconds(30));
}

TEST(DamagedTopic, PatternSubscriberSkipsDamagedRingAndServesTheHealthyTopic) {
  TempBus tb;
  Bus bus = tb.open();
  make_topics(bus, "ring");
  EXPECT_EQ(pattern_subscriber_case(tb.path(), WaitStrategy::kBlock), 0);
}

TEST(DamagedTopic, PatternSubscriberSkipsDamagedMetaAndServesTheHealthyTopic) {
  TempBus tb;
  Bus bus = tb.open();
  make_topics(bus, "meta");
  EXPECT_EQ(pattern_subscriber_case(tb.path(), WaitStrategy::kBlock), 0);
}

TEST(DamagedTopic, SpinningPatternSubscriberKeepsItsTimeoutToo) {
  TempBus tb;
  Bus bus = tb.open();
  make_topics(bus, "ring");
  EXPECT_EQ(pattern_subscriber_case(tb.path(), WaitStrategy::kSpin), 0);
}

TEST(DamagedTopic, PatternSubscriberAttachesTheTopicOnceItIsMadeAgain) {
  TempBus tb;
  Bus bus = tb.open();
  make_topics(bus, "meta");
  Subscription sub = bus.subscribe("#", {StartAt::earliest(), WaitStrategy::kBlock});
  ASSERT_EQ(sub.skipped_topics().size(), 1u);

  std::filesystem::remove_all(tb.path() + "/topics/" + kDamaged);
  bus.create_topic(kDamaged, test::ring_config(64 << 10));  // registered already: no registry change
  ASSERT_TRUE(bus.publisher(kDamaged).publish("repaired"));

  std::vector<std::string> got;
  const auto t0 = std::chrono::steady_clock::now();
  while (ms_since(t0) < 10'000 && got.size() < 2) {
    ASSERT_TRUE(sub.receive([&](const Message& m) { got.emplace_back(m.text()); }, 16, 100ms));
  }
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"hello", "repaired"}));
  EXPECT_TRUE(sub.skipped_topics().empty());
  EXPECT_EQ(sub.topic_count(), 2u);
}

std::string setup_error(const std::function<void()>& f, ErrorKind& kind) {
  try {
    f();
  } catch (const Error& e) {
    kind = e.kind();
    return e.what();
  }
  return "";
}

TEST(DamagedTopic, SubscriberAndPublisherOfADamagedTopicGetAClearError) {
  for (const char* file : {"ring", "meta"}) {
    TempBus tb;
    Bus bus = tb.open();
    make_topics(bus, file);
    const std::string path = tb.path() + "/topics/" + kDamaged + "/" + file;
    ErrorKind kind = ErrorKind::kGeneral;
    const std::string sub_error = setup_error([&] { bus.subscribe(kDamaged); }, kind);
    EXPECT_EQ(kind, ErrorKind::kNotShmbus) << file;
    EXPECT_NE(sub_error.find(path + ": not a shmbus file"), std::string::npos) << sub_error;
    EXPECT_NE(sub_error.find("topic orders.damaged is damaged"), std::string::npos) << sub_error;
    EXPECT_NE(sub_error.find("remove " + tb.path() + "/topics/" + kDamaged), std::string::npos) << sub_error;
    const std::string pub_error = setup_error([&] { bus.publisher(kDamaged); }, kind);
    EXPECT_NE(pub_error.find("not a shmbus file"), std::string::npos) << pub_error;
  }
}

}  // namespace
}  // namespace shmbus
