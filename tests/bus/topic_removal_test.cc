// Removing topics: tombstones, refusal while held, unlink semantics, pattern subscribers that
// follow removals and re-creations, crash leftovers, and a registry that outlives 4,096 topics.
#include <gtest/gtest.h>
#include <poll.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "base/kill_point.h"
#include "base/mapped_file.h"
#include "bus/registry.h"
#include "shmbus/shmbus.h"
#include "support/test_bus.h"

namespace shmbus {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test::TempBus;

constexpr uint64_t kSmallRing = 16 << 10;

// A pipe for a parent and a forked child to hand each other one byte at a time.
class Baton {
 public:
  Baton() { EXPECT_EQ(::pipe(fds_), 0); }
  ~Baton() {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  void pass() { EXPECT_EQ(::write(fds_[1], "x", 1), 1); }
  // True if a byte came within `timeout`.
  bool take(std::chrono::milliseconds timeout = 30s) {
    pollfd p{fds_[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
    char c;
    return ::read(fds_[0], &c, 1) == 1;
  }

 private:
  int fds_[2];
};

// The payloads a subscriber (plain or pattern) receives within `timeout`, up to `want`.
template <class Sub>
std::vector<std::string> receive(Sub& sub, size_t want, std::chrono::milliseconds timeout = 10s) {
  std::vector<std::string> got;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (got.size() < want && std::chrono::steady_clock::now() < deadline) {
    Result<size_t> n = sub.receive([&](const Message& m) { got.emplace_back(m.text()); }, want - got.size(), 50ms);
    if (!n && n.error() != Errc::kTimeout) break;
  }
  return got;
}

std::string error_of(const std::function<void()>& f, ErrorKind* kind = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (kind) *kind = e.kind();
    return e.what();
  }
  return "";
}

std::vector<std::string> leftovers(const std::string& bus) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(bus + "/topics")) {
    const std::string name = e.path().filename().string();
    if (name[0] == '.') names.push_back(name);
  }
  return names;
}

// The registry's high water, read from the file as another process would see it.
uint32_t registry_high_water(const std::string& bus) {
  base::MappedFile f = base::MappedFile::open(bus + "/registry", base::Access::kReadOnly);
  return bus::load_high_water(*reinterpret_cast<const bus::Registry*>(f.data()));
}

TEST(TopicRemoval, RemovedTopicIsGoneAndItsNameMakesAFreshTopic) {
  TempBus tb;
  Bus sut = tb.open();
  sut.create_topic("orders.eu", test::ring_config(kSmallRing));
  { ASSERT_TRUE(sut.publisher("orders.eu").publish("old")); }

  EXPECT_TRUE(sut.remove_topic("orders.eu"));

  EXPECT_FALSE(sut.topic_exists("orders.eu"));
  EXPECT_TRUE(sut.topics().empty());
  EXPECT_TRUE(leftovers(tb.path()).empty());
  EXPECT_TRUE(sut.create_topic("orders.eu", test::ring_config(kSmallRing)));
  EXPECT_EQ(sut.stats("orders.eu").published, 0u);
  EXPECT_EQ(sut.topics(), std::vector<std::string>{"orders.eu"});
}

TEST(TopicRemoval, RemovingAMissingTopicReturnsFalse) {
  TempBus tb;
  Bus sut = tb.open();
  EXPECT_FALSE(sut.remove_topic("no.such.topic"));
  EXPECT_NE(error_of([&] { sut.remove_topic("../x"); }), "");
}

TEST(TopicRemoval, LivePublisherInThisProcessIsNamedAndRefused) {
  TempBus tb;
  Bus sut = tb.open();
  Publisher pub = sut.publisher("held");
  ErrorKind kind = ErrorKind::kGeneral;

  const std::string error = error_of([&] { sut.remove_topic("held"); }, &kind);

  EXPECT_EQ(kind, ErrorKind::kInUse);
  EXPECT_NE(error.find("publishers in pid " + std::to_string(::getpid())), std::string::npos) << error;
  EXPECT_NE(error.find("--force"), std::string::npos) << error;
  EXPECT_TRUE(sut.topic_exists("held"));
  EXPECT_EQ(sut.topics(), std::vector<std::string>{"held"});
}

TEST(TopicRemoval, ClosedPublishersAndSubscribersDoNotHoldTheTopic) {
  TempBus tb;
  Bus sut = tb.open();
  {
    Publisher pub = sut.publisher("was.held");
    Subscription sub = sut.subscribe("was.held");
  }
  EXPECT_TRUE(sut.remove_topic("was.held"));
}

TEST(TopicRemoval, ForcedRemovalLeavesMappingsWorking) {
  TempBus tb;
  Bus sut = tb.open();
  sut.create_topic("kept", test::ring_config(kSmallRing));
  Publisher pub = sut.publisher("kept");
  Subscription sub = sut.subscribe("kept", {StartAt::earliest()});

  EXPECT_TRUE(sut.remove_topic("kept", /*force=*/true));

  EXPECT_FALSE(sut.topic_exists("kept"));
  ASSERT_TRUE(pub.publish("after removal"));
  EXPECT_EQ(receive(sub, 1), std::vector<std::string>{"after removal"});
  // The name is free: a new topic, not the one our handles still map.
  Publisher fresh = sut.publisher("kept");
  EXPECT_EQ(sut.stats("kept").published, 0u);
}

TEST(TopicRemoval, SubscriberInAnotherProcessIsNamedThenKeepsItsMappingWhenForced) {
  TempBus tb;
  Bus sut = tb.open();
  sut.create_topic("shared", test::ring_config(kSmallRing));
  Baton ready, removed;
  const pid_t child = test::spawn([&] {
    Bus bus = tb.open();
    Subscription sub = bus.subscribe("shared", {StartAt::earliest()});
    Publisher pub = bus.publisher("shared");
    ready.pass();
    if (!removed.take()) return 2;
    if (bus.topic_exists("shared")) return 3;
    if (!pub.publish("still mapped")) return 4;
    return receive(sub, 1) == std::vector<std::string>{"still mapped"} ? 0 : 5;
  });
  ASSERT_TRUE(ready.take());
  ErrorKind kind = ErrorKind::kGeneral;

  const std::string error = error_of([&] { sut.remove_topic("shared"); }, &kind);
  EXPECT_EQ(kind, ErrorKind::kInUse);
  EXPECT_NE(error.find("publishers in pid " + std::to_string(child)), std::string::npos) << error;
  EXPECT_NE(error.find("subscribers in pid " + std::to_string(child)), std::string::npos) << error;
  EXPECT_TRUE(sut.remove_topic("shared", /*force=*/true));
  removed.pass();

  EXPECT_EQ(test::wait_child(child), 0);
}

TEST(TopicRemoval, DeadHoldersDoNotHoldTheTopic) {
  TempBus tb;
  Bus sut = tb.open();
  sut.create_topic("orphan", test::ring_config(kSmallRing));
  const pid_t child = test::spawn([&] {
    Bus bus = tb.open();
    Publisher pub = bus.publisher("orphan");
    ::raise(SIGKILL);  // dies holding its slot
    return 0;
  });
  EXPECT_EQ(test::wait_child(child), 128 + SIGKILL);
  EXPECT_TRUE(sut.remove_topic("orphan"));
}

TEST(PatternSubscriberRemoval, DetachesARemovedTopicWithoutHoldingIt) {
  TempBus tb;
  Bus sut = tb.open();
  sut.create_topic("rr.a", test::ring_config(kSmallRing));
  sut.create_topic("rr.b", test::ring_config(kSmallRing));
  Subscription sub = sut.subscribe("rr.*", {StartAt::earliest()});
  ASSERT_EQ(sub.topic_count(), 2u);

  EXPECT_TRUE(sut.remove_topic("rr.a"));  // a pattern subscriber follows: it does not hold
  (void)sub.poll([](const Message&) {}, 1);

  EXPECT_EQ(sub.topic_count(), 1u);
}

TEST(PatternSubscriberRemoval, AttachesTheNewTopicWhenARemovedNameIsCreatedAgain) {
  TempBus tb;
  Bus sut = tb.open();
  Subscription sub = sut.subscribe("reply.*", {StartAt::earliest()});
  sut.create_topic("reply.42", test::ring_config(kSmallRing));
  { ASSERT_TRUE(sut.publisher("reply.42").publish("old")); }
  ASSERT_EQ(receive(sub, 1), std::vector<std::string>{"old"});

  ASSERT_TRUE(sut.remove_topic("reply.42"));
  sut.create_topic("reply.42", test::ring_config(kSmallRing));
  { ASSERT_TRUE(sut.publisher("reply.42").publish("new")); }

  EXPECT_EQ(receive(sub, 2, 500ms), std::vector<std::string>{"new"});
  EXPECT_EQ(sub.topic_count(), 1u);
  EXPECT_EQ(sub.received(), 2u);
}

TEST(PatternSubscriberRemoval, SubscriberInAnotherProcessFollowsRemovalAndRecreation) {
  TempBus tb;
  Bus sut = tb.open();
  Baton attached, got_first, done;
  const pid_t child = test::spawn([&] {
    Bus bus = tb.open();
    Subscription sub = bus.subscribe("job.*", {StartAt::earliest(), WaitStrategy::kBlock});
    attached.pass();
    if (receive(sub, 1, 20s) != std::vector<std::string>{"first"}) return 2;
    got_first.pass();
    if (receive(sub, 1, 20s) != std::vector<std::string>{"second"}) return 3;
    if (sub.topic_count() != 1) return 4;
    done.pass();
    return 0;
  });
  ASSERT_TRUE(attached.take());
  { ASSERT_TRUE(sut.publisher("job.x").publish("first")); }
  ASSERT_TRUE(got_first.take());
  ASSERT_TRUE(sut.remove_topic("job.x"));
  { ASSERT_TRUE(sut.publisher("job.x").publish("second")); }
  EXPECT_TRUE(done.take());
  EXPECT_EQ(test::wait_child(child), 0);
}

#ifdef SHMBUS_KILL_POINTS
TEST(TopicRemovalCrash, RemoverKilledAfterRenameIsCleanedUpByTheNextOpen) {
  TempBus tb;
  { tb.open().create_topic("doomed", test::ring_config(kSmallRing)); }
  const pid_t child = test::spawn([&] {
    base::arm_kill_point("topic_rm.after_rename", 1);
    tb.open().remove_topic("doomed");
    return 1;  // not reached
  });
  ASSERT_EQ(test::wait_child(child), 128 + SIGKILL);
  ASSERT_EQ(leftovers(tb.path()).size(), 1u);  // the renamed directory, not yet deleted

  Bus sut = tb.open();

  EXPECT_TRUE(sut.topics().empty());  // the entry without a directory became a tombstone
  EXPECT_TRUE(leftovers(tb.path()).empty());
  EXPECT_TRUE(sut.create_topic("doomed", test::ring_config(kSmallRing)));
}

TEST(TopicRemovalCrash, FillerKilledMidEntryLeavesAnEntryTheNextCreationReuses) {
  TempBus tb;
  { tb.open(); }
  const pid_t child = test::spawn([&] {
    base::arm_kill_point("registry.fill.after_writing", 1);
    tb.open().create_topic("half", test::ring_config(kSmallRing));
    return 1;  // not reached
  });
  ASSERT_EQ(test::wait_child(child), 128 + SIGKILL);

  Bus sut = tb.open();  // registers "half": its directory was complete

  EXPECT_EQ(sut.topics(), std::vector<std::string>{"half"});
  EXPECT_EQ(registry_high_water(tb.path()), 1u);
}
#endif

TEST(RegistryGrowth, FullRegistryNamesTheWayOutAndAcceptsAfterARemoval) {
  TempBus tb;
  Bus sut = tb.open();
  {
    // Every entry but one taken (no directories: states set directly).
    base::MappedFile f = base::MappedFile::open(tb.path() + "/registry", base::Access::kReadWrite);
    auto& r = *reinterpret_cast<bus::Registry*>(f.data());
    for (uint32_t i = 0; i + 1 < bus::kMaxTopics; ++i) bus::fill_entry(r, i, "fake.t" + std::to_string(i), 0, 1);
  }
  ASSERT_TRUE(sut.create_topic("last.one", test::ring_config(kSmallRing)));
  ErrorKind kind = ErrorKind::kGeneral;

  const std::string error = error_of([&] { sut.create_topic("one.more", test::ring_config(kSmallRing)); }, &kind);
  EXPECT_EQ(kind, ErrorKind::kFull);
  EXPECT_NE(error.find("shmbus topic rm"), std::string::npos) << error;
  EXPECT_FALSE(sut.topic_exists("one.more"));
  ASSERT_TRUE(sut.remove_topic("last.one"));
  EXPECT_TRUE(sut.create_topic("one.more", test::ring_config(kSmallRing)));

  // The fake entries have no directories: the next open tombstones them.
  EXPECT_EQ(tb.open().topics(), std::vector<std::string>{"one.more"});
}

// Request/reply and retry topics come and go all day: 10,000 topics over one bus's life, a
// pattern subscriber attached throughout that sees every one of them, and a table that stays
// as small as the topics alive at one time.
TEST(RegistryGrowth, TenThousandTopicsComeAndGoUnderOnePatternSubscriber) {
  constexpr int kTopics = 10000;
  constexpr int kAlive = 4;
  TempBus tb;
  Bus sut = tb.open();
  Subscription sub = sut.subscribe("reply.*", {StartAt::earliest(), WaitStrategy::kSpin});
  int seen = 0;
  for (int i = 0; i < kTopics; ++i) {
    const std::string name = "reply.r" + std::to_string(i);
    ASSERT_TRUE(sut.create_topic(name, test::ring_config(4096)));
    { ASSERT_TRUE(sut.publisher(name).publish(std::to_string(i))); }
    const std::vector<std::string> got = receive(sub, 1);
    ASSERT_EQ(got, std::vector<std::string>{std::to_string(i)}) << "topic " << i;
    ++seen;
    if (i >= kAlive) {
      ASSERT_TRUE(sut.remove_topic("reply.r" + std::to_string(i - kAlive)));
    }
  }
  EXPECT_EQ(seen, kTopics);
  EXPECT_EQ(sut.topics().size(), static_cast<size_t>(kAlive));
  EXPECT_LE(registry_high_water(tb.path()), static_cast<uint32_t>(kAlive + 1));
  EXPECT_LE(sub.topic_count(), static_cast<size_t>(kAlive + 1));
  EXPECT_EQ(sub.received(), static_cast<uint64_t>(kTopics));
}

}  // namespace
}  // namespace shmbus
