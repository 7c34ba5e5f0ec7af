// Publisher::explain(): the data path's Errc, said for a person, with the numbers and the fix.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <string>
#include <vector>

#include "shmbus/shmbus.h"
#include "support/test_bus.h"

namespace shmbus {
namespace {

using test::TempBus;
using test::TempDir;

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(PublisherExplain, TooLargeNamesTheSizeTheLimitAndTheCapacity) {
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("small", test::ring_config(64 << 10));
  Publisher pub = bus.publisher("small");
  const std::vector<std::byte> payload(40000);
  Result<uint64_t> r = pub.publish(payload);
  ASSERT_EQ(r.error(), Errc::kTooLarge);

  const std::string sut = pub.explain(r.error());
  EXPECT_EQ(sut.rfind("too-large: a record of 40000 bytes of payload is over the limit of topic small", 0), 0u) << sut;
  EXPECT_TRUE(has(sut, "at most " + std::to_string(pub.max_payload()) + " bytes")) << sut;
  EXPECT_TRUE(has(sut, "capacity is 65536 bytes")) << sut;
  EXPECT_TRUE(has(sut, "--capacity")) << sut;
}

TEST(PublisherExplain, TooLargeCountsTheHeadersAndNamesTheSegmentSizeOfAJournal) {
  TempBus tb;
  Bus bus = tb.open();
  TopicConfig config;
  config.kind = TopicKind::kJournal;
  config.segment_bytes = 64 << 10;
  bus.create_topic("log", config);
  Publisher pub = bus.publisher("log");
  const std::vector<std::byte> payload(pub.max_payload() - 4);
  const std::vector<Header> headers{{"type", "Big"}};
  Result<uint64_t> r = pub.publish(payload, headers);
  ASSERT_EQ(r.error(), Errc::kTooLarge);

  const std::string sut = pub.explain(r.error());
  EXPECT_TRUE(has(sut, std::to_string(payload.size()) + " bytes of payload + 11 bytes of headers")) << sut;
  EXPECT_TRUE(has(sut, "segment size is 65536 bytes")) << sut;
  EXPECT_TRUE(has(sut, "--segment-size")) << sut;
}

// A journal whose next segment cannot be made: the file size limit (RLIMIT_FSIZE) stands in for
// a full disk, in a child process so that the test's own files are not limited.
TEST(PublisherExplain, StorageNamesTheDirectoryItsFreeSpaceTheReasonAndRetention) {
  TempBus tb;
  TempDir segments("/tmp", "explain-segments");
  {
    Bus bus = tb.open();
    TopicConfig config;
    config.kind = TopicKind::kJournal;
    config.segment_bytes = 64 << 10;
    config.data_dir = segments.path();
    bus.create_topic("log", config);
  }
  pid_t pid = test::spawn([&] {
    Bus bus = tb.open();
    ::signal(SIGXFSZ, SIG_IGN);
    rlimit limit{16 << 10, 16 << 10};  // below a segment file
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) return 90;
    Publisher pub = bus.publisher("log");
    Result<uint64_t> r = pub.publish("x");
    for (int i = 0; r && i < 1000; ++i) r = pub.publish("x");
    if (r) return 1;
    const std::string sut = pub.explain(r.error());
    std::fprintf(stderr, "%s\n", sut.c_str());
    if (r.error() != Errc::kStorage) return 2;
    if (sut.rfind("storage: topic log's journal could not get a segment of 65536 bytes in " + segments.path(), 0) != 0) return 3;
    if (!has(sut, "File too large") || !has(sut, "ulimit -f")) return 4;  // the operating system's reason
    if (!has(sut, segments.path() + " has ") || !has(sut, " MiB free of ")) return 5;
    if (!has(sut, "--retain-bytes")) return 6;
    return 0;
  });
  EXPECT_EQ(test::wait_child(pid, std::chrono::seconds(60)), 0);
}

TEST(PublisherExplain, EveryCodeStartsWithItsName) {
  TempBus tb;
  Bus bus = tb.open();
  Publisher pub = bus.publisher("t");
  for (Errc e : {Errc::kWouldBlock, Errc::kNotDurable, Errc::kHeldLimit, Errc::kStaleLease, Errc::kAbandoned, Errc::kTooLarge, Errc::kCorrupt, Errc::kTimeout,
                 Errc::kClosed, Errc::kInvalidArgument, Errc::kStorage}) {
    EXPECT_EQ(pub.explain(e).rfind(to_string(e), 0), 0u) << pub.explain(e);
  }
  EXPECT_EQ(Publisher().explain(Errc::kClosed).rfind("closed: ", 0), 0u);
}

}  // namespace
}  // namespace shmbus
