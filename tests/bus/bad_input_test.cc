// Bad input: each a clear error, never a crash.
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "log/file_header.h"
#include "shmbus/shmbus.h"
#include "support/test_bus.h"

namespace shmbus {
namespace {

using test::TempBus;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(BadInput, InvalidTopicNamesAreRefused) {
  TempBus tb;
  Bus bus = tb.open();
  for (const std::string& name : std::vector<std::string>{"a..b", "../x", "", std::string(300, 'a'), "a/b", ".a", "a.", "a b"}) {
    EXPECT_NE(error_of([&] { bus.publisher(name); }), "") << name;
  }
  EXPECT_NE(error_of([&] { bus.subscribe("a.#.b*"); }), "");
}

TEST(BadInput, FileThatIsNotABus) {
  TempBus tb;
  std::ofstream(tb.path()) << "hello";
  EXPECT_NE(error_of([&] { tb.open(); }).find("not a bus directory"), std::string::npos);
  std::filesystem::remove(tb.path());
  std::filesystem::create_directories(tb.path());
  std::ofstream(tb.path() + "/bus.meta") << std::string(4096, 'z');
  EXPECT_NE(error_of([&] { tb.open(); }).find("bad magic"), std::string::npos);
}

TEST(BadInput, BusOfAnotherLayoutVersion) {
  TempBus tb;
  { tb.open(); }
  std::fstream f(tb.path() + "/bus.meta", std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(offsetof(log::FileHeader, version));
  uint32_t version = 99;
  f.write(reinterpret_cast<const char*>(&version), sizeof version);
  f.close();
  EXPECT_NE(error_of([&] { tb.open(); }).find("layout version 99"), std::string::npos);
}

TEST(BadInput, RingOfGarbageNeverCrashesReaderOrWriter) {
  TempBus tb;
  Bus bus = tb.open();
  TopicConfig config = test::ring_config(8192, Policy::kOverwrite);
  bus.create_topic("t", config);
  {
    std::fstream f(tb.path() + "/topics/t/ring", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096);
    std::mt19937_64 rng(7);
    for (int i = 0; i < 8192 / 8; ++i) {
      uint64_t v = rng();
      f.write(reinterpret_cast<const char*>(&v), sizeof v);
    }
  }
  Subscriber sub = bus.subscriber("t", {StartAt::earliest()});
  Publisher pub = bus.publisher("t");

  for (int i = 0; i < 1000; ++i) {
    Result<uint64_t> p = pub.publish("x");
    if (!p) {
      EXPECT_EQ(p.error(), Errc::kCorrupt);
    }
    Result<size_t> n = sub.poll([](const Message& m) { EXPECT_LE(m.payload.size(), 8192u); }, 16);
    if (!n) {
      EXPECT_EQ(n.error(), Errc::kCorrupt);
    }
  }
}

TEST(BadInput, BadCapacityIsRefused) {
  TempBus tb;
  Bus bus = tb.open();
  TopicConfig config = test::ring_config(5000);
  EXPECT_NE(error_of([&] { bus.create_topic("t", config); }).find("power of two"), std::string::npos);
}

}  // namespace
}  // namespace shmbus
