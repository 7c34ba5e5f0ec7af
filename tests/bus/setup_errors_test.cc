// Set-up failures that must leave nothing behind and say what to do: a topic create that runs
// out of space, another user opening a private bus.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "shmbus/shmbus.h"
#include "support/test_bus.h"
#include "topic/topic_meta.h"

namespace shmbus {
namespace {

using test::TempBus;

// Entries of `dir` whose names start with '.': half-made topics (".NAME.creating.PID.TID").
std::vector<std::string> hidden_entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string()[0] == '.') names.push_back(e.path().filename().string());
  }
  return names;
}

// Creates topic `name` of `capacity` bytes in a child whose files may not grow past
// `file_limit` bytes (RLIMIT_FSIZE: the file is refused as on a full /dev/shm, EFBIG instead of
// ENOSPC). Exit code 0: create_topic threw a shmbus::Error of kind kIo that says what to do.
int create_with_file_limit(const std::string& bus_path, const std::string& name, uint64_t capacity, rlim_t file_limit) {
  pid_t pid = test::spawn([&] {
    Bus bus = Bus::open(bus_path);
    ::signal(SIGXFSZ, SIG_IGN);  // the error, not the signal
    rlimit limit{file_limit, file_limit};
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) return 90;
    try {
      bus.create_topic(name, test::ring_config(capacity));
    } catch (const Error& e) {
      std::fprintf(stderr, "create_topic: %s\n", e.what());
      const std::string what = e.what();
      return e.kind() == ErrorKind::kIo && what.find("ulimit -f") != std::string::npos ? 0 : 2;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "not a shmbus::Error: %s\n", e.what());
      return 3;
    }
    return 1;  // it was created?
  });
  return test::wait_child(pid, std::chrono::seconds(30));
}

TEST(TopicCreate, RingThatCannotBeAllocatedLeavesNoTemporaryDirectory) {
  TempBus tb;
  { tb.open(); }
  EXPECT_EQ(create_with_file_limit(tb.path(), "big", 1 << 20, 2 * sizeof(topic::TopicMeta)), 0);
  EXPECT_EQ(hidden_entries(tb.path() + "/topics"), std::vector<std::string>{});
  EXPECT_FALSE(Bus::open(tb.path()).topic_exists("big"));
}

TEST(TopicCreate, MetaThatCannotBeAllocatedLeavesNoTemporaryDirectory) {
  TempBus tb;
  { tb.open(); }
  EXPECT_EQ(create_with_file_limit(tb.path(), "big", 1 << 20, sizeof(topic::TopicMeta) / 2), 0);
  EXPECT_EQ(hidden_entries(tb.path() + "/topics"), std::vector<std::string>{});
}

TEST(TopicCreate, AfterAFailedCreateTheTopicCanBeMade) {
  TempBus tb;
  { tb.open(); }
  ASSERT_EQ(create_with_file_limit(tb.path(), "big", 1 << 20, 2 * sizeof(topic::TopicMeta)), 0);
  Bus bus = tb.open();
  EXPECT_TRUE(bus.create_topic("big", test::ring_config(1 << 20)));
  EXPECT_TRUE(bus.publisher("big").publish("x"));
}

// The message `nobody` (uid 65534) gets opening `bus_path`; needs root to become nobody.
std::string open_as_nobody(const std::string& bus_path) {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  pid_t pid = test::spawn([&] {
    ::close(fds[0]);
    std::string what = "opened";
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) {
      what = "setuid failed";
    } else {
      try {
        Bus::open(bus_path);
      } catch (const Error& e) {
        what = std::string("Error: ") + e.what();
      } catch (const std::exception& e) {
        what = std::string("other: ") + e.what();
      }
    }
    return ::write(fds[1], what.data(), what.size()) == static_cast<ssize_t>(what.size()) ? 0 : 1;
  });
  ::close(fds[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  test::wait_child(pid, std::chrono::seconds(30));
  return out;
}

TEST(BusPermissions, AnotherUserIsToldWhoseBusItIsAndHowToShareIt) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root, to open the bus as user nobody";
  TempBus tb;
  { tb.open(); }  // 0700, owned by root
  const std::string what = open_as_nobody(tb.path());
  EXPECT_EQ(what.rfind("Error: " + tb.path() + ": permission denied", 0), 0u) << what;
  EXPECT_NE(what.find("owned by user root (uid 0)"), std::string::npos) << what;
  EXPECT_NE(what.find("mode 0700"), std::string::npos) << what;
  EXPECT_NE(what.find("you are nobody"), std::string::npos) << what;
  EXPECT_NE(what.find("BusOptions::group"), std::string::npos) << what;
  EXPECT_NE(what.find("--group"), std::string::npos) << what;
}

}  // namespace
}  // namespace shmbus
